"""Timing small tensor functions fairly: compiled repeat loops and interleaved rounds.

A single call of a small op costs more in Python and dispatch than in arithmetic, so
`compiled_repeat` runs it many times inside one compiled loop, and
`seconds_per_call` picks the loop length from a first call and keeps the fastest of
several rounds (the least disturbed run on a shared machine). `interleaved` times
two or more callables in alternating order, so neither always runs on a warmer or
colder machine than the other. Used by the book and by `make bench`.

Example:

>>> import numpy as np, keras
>>> import sparsekit as sk
>>> x = np.ones((32, 256), "float32")
>>> kernel = np.ones((256, 64), "float32")
>>> t = sk.timing.seconds_per_call(keras.ops.matmul, (x, kernel))
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import keras

from sparsekit._validation import check_float, check_int, invalid_argument

__all__ = ["block", "compiled_repeat", "interleaved", "seconds_per_call"]


def block(x: Any) -> Any:
    """Waits for an asynchronous result (JAX, GPU) by copying it to the host."""
    return keras.ops.convert_to_numpy(x)


def _check_function(name: str, fn: Any) -> None:
    if not callable(fn):
        raise invalid_argument(name, "a callable", fn)


def _repeat_loop(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`loop(repeats, *args)`: `fn(*args)` summed over `repeats` compiled iterations.

    `repeats` is a runtime argument, so one compilation serves every loop length.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(autograph=False)
        def loop(repeats, *args):
            first, rest = args[0], args[1:]

            def body(r, acc):
                shift = tf.cast(r, first.dtype) * 1e-9
                return r + 1, acc + fn(first + shift, *rest)

            acc = tf.zeros_like(fn(*args))
            return tf.while_loop(lambda r, _: r < repeats, body, (0, acc))[1]

        return lambda repeats, *args: loop(tf.constant(repeats), *args)
    if backend == "jax":
        import jax

        @jax.jit
        def loop(repeats, *args):
            first, rest = args[0], args[1:]

            def body(r, acc):
                shift = r.astype(first.dtype) * 1e-9
                return acc + fn(first + shift, *rest)

            acc = jax.numpy.zeros_like(fn(*args))
            return jax.lax.fori_loop(0, repeats, body, acc)

        return loop
    raise NotImplementedError(f"no compiled loop for the {backend} backend")


def _check_loop_arguments(fn: Any, args: Any) -> tuple[Any, ...]:
    _check_function("fn", fn)
    if not isinstance(args, tuple) or not args:
        raise invalid_argument("args", "a non-empty tuple of tensors", args)
    args = tuple(keras.ops.convert_to_tensor(a) for a in args)
    if "float" not in str(keras.ops.dtype(args[0])):
        raise invalid_argument(
            "args", "args[0] of a floating dtype", keras.ops.dtype(args[0])
        )
    return args


def compiled_repeat(
    fn: Callable[..., Any], args: tuple[Any, ...], repeats: int
) -> Callable[[], Any]:
    """A callable running `fn(*args)` `repeats` times inside one compiled function.

    The first argument is shifted by a tiny amount that depends on the iteration
    and the outputs are summed, so the compiler can neither hoist the work out of
    the loop nor drop it. Python and dispatch overhead is paid once per loop.
    The loop is compiled (and run once) before it is returned.

    Args:
        fn: backend-agnostic function of tensors returning one tensor of a fixed
            shape.
        args: tuple, its arguments (arrays or tensors); `args[0]` must be floating.
        repeats: int >= 1, iterations of the loop.

    Returns:
        A zero-argument callable that runs the loop and blocks until it is done.

    Raises:
        NotImplementedError: on a backend other than TensorFlow or JAX.
    """
    args = _check_loop_arguments(fn, args)
    check_int("repeats", repeats, low=1)
    loop = _repeat_loop(fn)

    def run():
        return block(loop(repeats, *args))

    run()  # compile outside any timed round
    return run


def interleaved(
    functions: dict[str, Callable[[], Any]], rounds: int, per_call: int = 1
) -> dict[str, dict[str, float]]:
    """Times each zero-argument function once per round, alternating the order.

    Args:
        functions: dict, name -> callable; each call must block until its work
            is done (see `block`).
        rounds: int >= 1, timed calls per function.
        per_call: int >= 1, units of work in one call (results are per unit).

    Returns:
        name -> `{"min": s, "median": s, "rounds": n}`, seconds per unit of work.
    """
    if not isinstance(functions, dict) or not functions:
        raise invalid_argument("functions", "a non-empty dict of callables", functions)
    for name, fn in functions.items():
        _check_function(f"functions[{name!r}]", fn)
    check_int("rounds", rounds, low=1)
    check_int("per_call", per_call, low=1)
    times: dict[str, list[float]] = {name: [] for name in functions}
    names = list(functions)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            functions[name]()
            times[name].append((time.perf_counter() - start) / per_call)
    return {
        name: {"min": min(t), "median": statistics.median(t), "rounds": len(t)}
        for name, t in times.items()
    }


def seconds_per_call(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    *,
    rounds: int = 5,
    round_s: float = 0.05,
    max_repeats: int = 400,
) -> float:
    """Seconds per call of `fn(*args)`: the fastest of `rounds` compiled loops.

    A one-iteration loop estimates the cost; the loop length is then chosen so a
    round lasts about `round_s` (at most `max_repeats` iterations). For a call
    slower than `round_s` the faster of the two single runs is returned. The
    loop is compiled once, whatever its length.

    Args:
        fn: backend-agnostic function of tensors returning one tensor.
        args: tuple, its arguments; `args[0]` must be floating.
        rounds: int >= 1, timed loops.
        round_s: float > 0, the target length of one round in seconds.
        max_repeats: int >= 1, the longest loop.

    Returns:
        float, seconds per call.
    """
    check_int("rounds", rounds, low=1)
    check_float("round_s", round_s, low=0.0, low_inclusive=False)
    check_int("max_repeats", max_repeats, low=1)
    args = _check_loop_arguments(fn, args)
    loop = _repeat_loop(fn)
    block(loop(1, *args))  # compile

    def run(repeats):
        return lambda: block(loop(repeats, *args))

    once = interleaved({"once": run(1)}, 2)["once"]["min"]
    if once >= round_s:  # a slow call: the two single runs are enough
        return once
    repeats = int(min(max(round_s / once, 1), max_repeats))
    return interleaved({"loop": run(repeats)}, rounds, per_call=repeats)["loop"]["min"]
