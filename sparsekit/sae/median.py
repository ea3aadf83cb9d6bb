"""The geometric median, the SAE's starting pre-encoder bias."""

from __future__ import annotations

from typing import Any

import numpy as np

from sparsekit._validation import check_float, check_int, invalid_argument


def geometric_median(x: Any, *, n_iter: int = 100, tol: float = 1e-7) -> np.ndarray:
    """The point minimising the summed Euclidean distance to the rows of `x`.

    Weiszfeld's iteration: re-weight each row by the inverse of its distance to the
    current point and take the weighted mean, starting from the mean. Unlike the
    mean it ignores a minority of far outliers, which is why SAEs start their
    pre-encoder bias there (Bricken et al., 2023; Gao et al., 2024).

    Args:
        x: array `(n_samples, n_features)`.
        n_iter: int >= 1, most iterations. Defaults to 100.
        tol: float >= 0, stop when a step moves less than `tol` times the point's
            norm (at least 1). Defaults to 1e-7.

    Returns:
        A float64 array `(n_features,)`.

    Example:

    >>> points = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [50.0, 50.0]])
    >>> np.round(geometric_median(points), 3)  # the mean is (12.75, 12.75)
    array([0.5, 0.5])
    """
    array = np.asarray(x, dtype=np.float64)
    if array.ndim != 2 or array.size == 0 or not np.all(np.isfinite(array)):
        raise invalid_argument(
            "x", "a non-empty finite 2-D array", f"<array of shape {array.shape}>"
        )
    n_iter = check_int("n_iter", n_iter, low=1)
    tol = check_float("tol", tol, low=0.0)
    point = array.mean(axis=0)
    for _ in range(n_iter):
        distance = np.maximum(np.linalg.norm(array - point, axis=1), 1e-12)
        weights = 1.0 / distance
        new = weights @ array / weights.sum()
        if np.linalg.norm(new - point) <= tol * max(1.0, np.linalg.norm(point)):
            return new
        point = new
    return point
