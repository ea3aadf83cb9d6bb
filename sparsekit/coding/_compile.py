"""Compiles a `keras.ops` function with the active backend's tracer.

The maths stays portable (`keras.ops` only); this only decides how the whole
iteration loop is run: one `tf.function` graph or one `jax.jit` program instead of
hundreds of small eager ops. Other backends run the function eagerly. No XLA on
TensorFlow: it was slower on CPU for this project's kernels (DESIGN.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import keras


def compiled(static_argnames: tuple[str, ...] = ()) -> Callable:
    """Decorator: compile lazily, on first call, for the backend in use.

    Args:
        static_argnames: tuple of str. Python-valued arguments (loop lengths,
            flags) that select a program rather than flow through it.
    """

    def decorate(fn: Callable) -> Callable:
        @functools.cache
        def build(backend: str) -> Callable:
            if backend == "jax":
                import jax

                return jax.jit(fn, static_argnames=static_argnames)
            if backend == "tensorflow":
                import tensorflow as tf

                return tf.function(fn, reduce_retracing=True, autograph=False)
            return fn

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return build(keras.backend.backend())(*args, **kwargs)

        return wrapper

    return decorate
