"""Compiles a `keras.ops` function with the active backend's tracer.

The maths stays portable (`keras.ops` only); this only decides how the whole
iteration loop is run: one `tf.function` graph or one `jax.jit` program instead of
hundreds of small eager ops. Other backends run the function eagerly. No XLA on
TensorFlow: it was slower on CPU for this project's kernels (DESIGN.md).

A program is traced once per input shape and dtype and per value of the
`static_argnames`. Numeric settings such as `lam`, `tol` or an iteration count
must therefore be passed as tensors: then changing them reuses the program.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import keras


def compiled(static_argnames: tuple[str, ...] = ()) -> Callable:
    """Decorator: compile lazily, on first call, for the backend in use.

    Static arguments must be passed by keyword. On TensorFlow each combination
    of their values gets its own `tf.function` (as `jax.jit` keeps one program
    per combination), so that switching a flag is not counted as a retrace by
    TensorFlow's "excessive retracing" warning.

    The returned function also has:

    - `trace_count()`: how many times the Python body has run since the last
      `clear_cache()`. On TensorFlow and JAX it runs only while tracing, so
      this counts traces; eager backends run it on every call.
    - `program(**static)`: the backend's compiled function for those static
      values (a `tf.function` or `jax.jit` object).
    - `clear_cache()`: drops the compiled programs (the next call traces anew)
      and sets the count back to zero.

    Args:
        static_argnames: tuple of str. Python-valued arguments (flags that
            select a program rather than flow through it). Everything else must
            be a tensor, or its value is baked into the program and retraces it.
    """

    def decorate(fn: Callable) -> Callable:
        traces = [0]

        @functools.cache
        def build(backend: str, static: tuple) -> Callable:
            # A new body per build, so that no tracing cache of the backend can
            # serve a program traced before `clear_cache()`.
            body = _Body(fn, dict(static), traces)
            if backend == "jax":
                import jax

                return jax.jit(body.as_function(), static_argnames=static_argnames)
            if backend == "tensorflow":
                import tensorflow as tf

                return tf.function(body, reduce_retracing=True, autograph=False)
            return body

        def lookup(kwargs: dict) -> Callable:
            """The program for this call; moves TF's static values out of kwargs."""
            backend = keras.backend.backend()
            if backend != "tensorflow":
                return build(backend, ())
            names = sorted(name for name in static_argnames if name in kwargs)
            return build(backend, tuple((name, kwargs.pop(name)) for name in names))

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return lookup(kwargs)(*args, **kwargs)

        wrapper.trace_count = lambda: traces[0]
        wrapper.program = lambda **static: lookup(static)

        def clear_cache() -> None:
            build.cache_clear()
            traces[0] = 0

        wrapper.clear_cache = clear_cache
        return wrapper

    return decorate


class _Body:
    """The Python body of one program: calls `fn` with the fixed static values.

    An object rather than a closure because TensorFlow's retracing warning keys
    its statistics on a function's code object, which every closure made here
    would share; an object is its own key, so each program is judged alone.
    """

    def __init__(self, fn: Callable, fixed: dict, traces: list[int]):
        self.fn, self.fixed, self.traces = fn, fixed, traces
        self.__name__, self.__qualname__ = fn.__name__, fn.__qualname__

    def __call__(self, *args, **kwargs):
        self.traces[0] += 1  # compiled backends run this only while tracing
        return self.fn(*args, **kwargs, **self.fixed)

    def as_function(self) -> Callable:
        """A plain function with `fn`'s signature (`jax.jit` reads it)."""

        @functools.wraps(self.fn)
        def call(*args, **kwargs):
            return self(*args, **kwargs)

        return call
