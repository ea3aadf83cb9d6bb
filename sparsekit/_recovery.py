"""Reconstruction and dictionary-recovery measures (re-exported by `sk.metrics`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sparsekit._validation import check_float, float_array, invalid_argument


def _matrix(name: str, x: Any) -> np.ndarray:
    array = float_array(name, x, min_ndim=2)
    if array.ndim != 2:
        raise invalid_argument(name, "a 2-D array", f"<array of shape {array.shape}>")
    return array


def fraction_variance_unexplained(x: Any, x_hat: Any) -> float:
    """Share of the variance of `x` that a reconstruction `x_hat` misses.

    `FVU = sum((x - x_hat)^2) / sum((x - mean(x))^2)`, the mean taken over samples
    (axis 0) per feature: 0 is a perfect reconstruction, 1 is no better than
    predicting the mean, and it does not depend on the data's scale. It equals
    `1 - R^2` pooled over features.

    Args:
        x: array of shape `(n_samples, n_features)`.
        x_hat: array of the same shape.

    Returns:
        A Python float >= 0.

    Example:

    >>> x = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> fraction_variance_unexplained(x, x)
    0.0
    >>> fraction_variance_unexplained(x, np.ones_like(x) * x.mean(axis=0))
    1.0
    """
    x, x_hat = _matrix("x", x), _matrix("x_hat", x_hat)
    if x.shape != x_hat.shape:
        raise invalid_argument("x_hat", f"the shape of x, {x.shape}", x_hat.shape)
    variance = np.sum(np.square(x - x.mean(axis=0)))
    if variance == 0:
        raise invalid_argument(
            "x", "samples that vary (nonzero variance)", "constant x"
        )
    return float(np.sum(np.square(x - x_hat)) / variance)


def feature_recovery(
    learned: Any, true: Any, threshold: float = 0.9, *, return_similarity=False
) -> float | np.ndarray:
    """Fraction of true feature directions matched by some learned atom.

    A true direction counts as recovered when its cosine similarity with at least
    one learned atom exceeds `threshold` (signed: an atom pointing the opposite way
    does not match, since sparse codes are non-negative).

    Args:
        learned: array `(n_atoms, n_features)`, one atom per row.
        true: array `(n_true, n_features)`, one direction per row.
        threshold: float in [-1, 1]. Defaults to 0.9.
        return_similarity: bool, return each true direction's best cosine
            similarity (shape `(n_true,)`) instead. Defaults to `False`.

    Returns:
        A Python float in [0, 1], or the array of best similarities.

    Example:

    >>> feature_recovery(np.eye(3)[:2], np.eye(3))
    0.6666666666666666
    """
    learned, true = _matrix("learned", learned), _matrix("true", true)
    if learned.shape[1] != true.shape[1]:
        raise invalid_argument(
            "learned", f"{true.shape[1]} columns, as `true` has", learned.shape
        )
    threshold = check_float("threshold", threshold, low=-1.0, high=1.0)
    if not isinstance(return_similarity, bool):
        raise invalid_argument("return_similarity", "a bool", return_similarity)
    norms_l = np.linalg.norm(learned, axis=1, keepdims=True)
    norms_t = np.linalg.norm(true, axis=1, keepdims=True)
    if np.any(norms_t == 0):
        raise invalid_argument("true", "nonzero rows", "a zero row")
    cosine = (true / norms_t) @ (learned / np.maximum(norms_l, 1e-300)).T
    best = cosine.max(axis=1)
    return best if return_similarity else float(np.mean(best > threshold))
