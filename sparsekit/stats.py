"""Error bars for experiments repeated over seeds.

Comparing two models trained from the same seeds, the per-seed difference removes
what the seed does to both (the split, the initialisation), so its standard error
is usually far smaller than either model's spread. These helpers work on NumPy
arrays with the seeds along `axis` (0 by default) and use the sample standard
deviation (`ddof=1`).

Example:

>>> import sparsekit as sk
>>> sk.stats.paired_difference([0.91, 0.93, 0.92], [0.90, 0.91, 0.91])
(0.013..., 0.003...)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sparsekit._validation import invalid_argument

__all__ = ["mean_se", "paired_difference", "standard_error"]


def _as_seeds(name: str, values: Any, axis: int) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise invalid_argument(name, "numeric values", values) from error
    if array.ndim == 0:
        raise invalid_argument(name, "an array with seeds along `axis`", values)
    if not -array.ndim <= axis < array.ndim:
        raise invalid_argument("axis", f"an axis of a {array.ndim}-D array", axis)
    if array.shape[axis] < 2:
        raise ValueError(
            f"Invalid value for argument `{name}`: expected at least 2 seeds along "
            f"axis {axis}. Received: shape {array.shape}"
        )
    return array


def _scalar_or_array(value: np.ndarray) -> float | np.ndarray:
    return float(value) if np.ndim(value) == 0 else value


def standard_error(values: Any, axis: int = 0) -> float | np.ndarray:
    """Standard error of the mean over seeds: `std(ddof=1) / sqrt(n)`.

    Args:
        values: array-like with at least 2 seeds along `axis`.
        axis: int, the seed axis.

    Returns:
        A float, or an array of the other axes' shape.
    """
    array = _as_seeds("values", values, axis)
    n = array.shape[axis]
    return _scalar_or_array(array.std(axis=axis, ddof=1) / np.sqrt(n))


def mean_se(values: Any, axis: int = 0) -> tuple[Any, Any]:
    """`(mean, standard error)` over seeds along `axis`."""
    array = _as_seeds("values", values, axis)
    return _scalar_or_array(array.mean(axis=axis)), standard_error(array, axis)


def paired_difference(a: Any, b: Any, axis: int = 0) -> tuple[Any, Any]:
    """`(mean, standard error)` of the per-seed differences `a - b`.

    Args:
        a, b: array-likes of the same shape, seed `i` of `a` paired with seed `i`
            of `b` along `axis`.
        axis: int, the seed axis.
    """
    a_array = _as_seeds("a", a, axis)
    b_array = _as_seeds("b", b, axis)
    if a_array.shape != b_array.shape:
        raise ValueError(
            "Invalid value for argument `b`: expected the shape of `a` "
            f"{a_array.shape} (one value per paired seed). Received: {b_array.shape}"
        )
    return mean_se(a_array - b_array, axis)
