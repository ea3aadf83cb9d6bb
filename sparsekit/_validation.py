"""Argument checks shared by every public entry point.

Each error names the argument, what was expected and what was received, so a user
can fix the call without reading the source.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import keras
import numpy as np


def invalid_argument(name: str, expected: str, received: Any) -> ValueError:
    """Builds the project's standard `ValueError` for a bad argument."""
    return ValueError(
        f"Invalid value for argument `{name}`: expected {expected}. "
        f"Received: {name}={received!r}"
    )


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(
    name: str, value: Any, *, low: int | None = None, high: int | None = None
) -> int:
    """Returns `value` as an int if it is an integer in `[low, high]`."""
    in_range = _is_integer(value) and (low is None or value >= low)
    in_range = in_range and (high is None or value <= high)
    if not in_range:
        raise invalid_argument(
            name, _describe("an integer", low, high, True, True), value
        )
    return int(value)


def check_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Returns `value` as a float if it is a finite real number in the interval."""
    ok = _is_real(value) and value == value and abs(value) != float("inf")
    if ok and low is not None:
        ok = value >= low if low_inclusive else value > low
    if ok and high is not None:
        ok = value <= high if high_inclusive else value < high
    if not ok:
        expected = _describe("a number", low, high, low_inclusive, high_inclusive)
        raise invalid_argument(name, expected, value)
    return float(value)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Returns `value` if it is one of `choices`."""
    choices = tuple(choices)
    if value not in choices:
        raise invalid_argument(name, f"one of {choices}", value)
    return value


def check_bool(name: str, value: Any) -> bool:
    """Returns `value` if it is a bool (not merely truthy)."""
    if not isinstance(value, bool):
        raise invalid_argument(name, "a bool", value)
    return value


def check_axes(
    name: str, value: Any, *, expected: str, keywords: tuple = (None,)
) -> Any:
    """Returns one of `keywords`, an int, or a tuple of distinct ints.

    For `axis`-like arguments checked before the tensor's rank is known.
    """
    if any(value is k or (isinstance(k, str) and value == k) for k in keywords):
        return value
    if _is_integer(value):
        return int(value)
    if (
        isinstance(value, (list, tuple))
        and value
        and all(_is_integer(a) for a in value)
        and len(set(value)) == len(value)
    ):
        return tuple(int(a) for a in value)
    raise invalid_argument(name, expected, value)


def _describe(
    kind: str,
    low: float | None,
    high: float | None,
    low_inclusive: bool,
    high_inclusive: bool,
) -> str:
    if low is None and high is None:
        return kind
    if high is None:
        return f"{kind} {'>=' if low_inclusive else '>'} {low}"
    if low is None:
        return f"{kind} {'<=' if high_inclusive else '<'} {high}"
    left = "[" if low_inclusive else "("
    right = "]" if high_inclusive else ")"
    return f"{kind} in {left}{low}, {high}{right}"


def float_array(name: str, x: Any, *, min_ndim: int = 0) -> np.ndarray:
    """Converts an array or backend tensor to a finite, non-empty float64 array."""
    try:
        array = np.asarray(keras.ops.convert_to_numpy(x), dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise invalid_argument(name, "a numeric array or tensor", x) from error
    if array.ndim < min_ndim or array.size == 0:
        expected = f"a non-empty array with at least {min_ndim} dimension(s)"
        raise invalid_argument(name, expected, f"<array of shape {array.shape}>")
    if not np.all(np.isfinite(array)):
        raise invalid_argument(name, "finite values", "<array containing NaN or inf>")
    return array
