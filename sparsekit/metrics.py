"""Sparsity metrics as plain functions on numpy arrays or backend tensors.

These are measurements, not training losses: every function converts its input to a
float64 numpy array with `keras.ops.convert_to_numpy` (so numpy arrays, lists and
TensorFlow or JAX tensors are all accepted) and returns a Python float or a numpy
array. Nothing here is differentiable; for sparsity penalties see
`sparsekit.regularizers`.

Conventions shared by the vector measures (`hoyer`, `gini`, `lifetime_sparsity`,
`population_sparsity`): they measure magnitudes `|x|`, return 1 for the sparsest
vectors and 0 for vectors whose entries all have the same magnitude. An all-zero
vector has all magnitudes equal, so it gets 0 (not NaN): it has no structure to
measure, and a unit that never fires is reported by `dead_units` instead.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from sparsekit._recovery import feature_recovery, fraction_variance_unexplained
from sparsekit._validation import check_choice, check_float, invalid_argument
from sparsekit._validation import float_array as _to_numpy

__all__ = [
    "activation_sparsity",
    "l0",
    "hoyer",
    "gini",
    "dead_units",
    "lifetime_sparsity",
    "population_sparsity",
    "code_overlap",
    "fraction_variance_unexplained",
    "feature_recovery",
]


def _check_axis(axis: Any, ndim: int, *, allow_none: bool) -> Any:
    """Returns `axis` if it is a valid axis (or tuple of axes) for `ndim` dims."""
    axes = axis if isinstance(axis, tuple) else (axis,)
    ok = (allow_none and axis is None) or (
        len(axes) > 0
        and all(isinstance(a, int) and not isinstance(a, bool) for a in axes)
        and all(-ndim <= a < ndim for a in axes)
        and len({a % ndim for a in axes}) == len(axes)
    )
    if not ok:
        what = "None or " if allow_none else ""
        expected = f"{what}an axis (or tuple of distinct axes) in [-{ndim}, {ndim - 1}]"
        raise invalid_argument("axis", expected, axis)
    return axis


def _per_sample(name: str, activations: Any, min_units: int = 1) -> np.ndarray:
    """Returns activations as `(n_samples, n_units)` magnitudes."""
    array = _to_numpy(name, activations, min_ndim=2)
    array = np.abs(array.reshape(array.shape[0], -1))
    if array.shape[1] < min_units:
        expected = f"an array with at least {min_units} units per sample"
        raise invalid_argument(name, expected, f"<array of shape {array.shape}>")
    return array


def _treves_rolls(r: np.ndarray, axis: int) -> np.ndarray:
    """Treves–Rolls sparseness of non-negative `r` along `axis` (0 if all zero)."""
    n = r.shape[axis]
    mean = r.mean(axis=axis)
    mean_sq = (r**2).mean(axis=axis)
    safe = np.where(mean_sq > 0, mean_sq, 1.0)
    ratio = np.where(mean_sq > 0, mean**2 / safe, 1.0)
    return np.clip((1.0 - ratio) / (1.0 - 1.0 / n), 0.0, 1.0)


def activation_sparsity(x: Any, threshold: float = 0.0) -> float:
    """Fraction of entries whose magnitude is at most `threshold`.

    `activation_sparsity(x) = #{i : |x_i| <= threshold} / size(x)`, over all entries
    of `x` (every sample and unit together).

    Args:
        x: array or tensor of any shape.
        threshold: float >= 0, magnitudes up to this count as inactive. Defaults to
            `0.0` (exact zeros).

    Returns:
        A Python float in `[0, 1]`.

    Example:

    >>> activation_sparsity([[0.0, 2.0], [0.0, -1.0]])
    0.5
    """
    threshold = check_float("threshold", threshold, low=0.0)
    array = _to_numpy("x", x)
    return float(np.mean(np.abs(array) <= threshold))


def l0(x: Any, axis: int | tuple[int, ...] | None = None) -> int | np.ndarray:
    """Number of nonzero entries (the l0 "norm").

    `l0(x) = #{i : x_i != 0}`, counted along `axis`.

    Args:
        x: array or tensor of any shape.
        axis: None, int or tuple of ints, the axes to count over. Defaults to `None`
            (all entries).

    Returns:
        A Python int when `axis` is None, otherwise an int64 array with `axis`
        removed.

    Example:

    >>> l0([[0.0, 2.0], [3.0, -1.0]], axis=-1)
    array([1, 2])
    """
    array = _to_numpy("x", x)
    axis = _check_axis(axis, max(array.ndim, 1), allow_none=True)
    counts = np.count_nonzero(array, axis=axis)
    return int(counts) if axis is None else np.asarray(counts, dtype=np.int64)


def hoyer(x: Any, axis: int = -1) -> float | np.ndarray:
    """Hoyer (2004) sparseness along an axis.

    For a vector of length `n >= 2`:
    `s(x) = (sqrt(n) - ||x||_1 / ||x||_2) / (sqrt(n) - 1)`, which is 1 if and only
    if exactly one entry is nonzero and 0 if and only if all `|x_i|` are equal. The
    all-zero vector (0/0 in the formula) is defined as 0, like every vector with
    equal magnitudes.

    Args:
        x: array or tensor with at least 2 entries along `axis`.
        axis: int, the axis holding the vector. Defaults to `-1`.

    Returns:
        A Python float for a 1-D `x`, otherwise a float64 array with `axis` removed.

    Example:

    >>> hoyer([1.0, 0.0, 0.0, 0.0])
    1.0
    """
    array = _to_numpy("x", x, min_ndim=1)
    axis = _check_axis(axis, array.ndim, allow_none=False)
    n = array.shape[axis]
    if n < 2:
        expected = "an array with at least 2 entries along `axis`"
        raise invalid_argument("x", expected, f"<array of shape {array.shape}>")
    l1 = np.sum(np.abs(array), axis=axis)
    l2 = np.sqrt(np.sum(array**2, axis=axis))
    ratio = np.where(l2 > 0, l1 / np.where(l2 > 0, l2, 1.0), np.sqrt(n))
    result = np.clip((np.sqrt(n) - ratio) / (np.sqrt(n) - 1.0), 0.0, 1.0)
    return float(result) if result.ndim == 0 else result


def gini(x: Any, axis: int = -1) -> float | np.ndarray:
    """Gini index of sparsity along an axis (Hurley & Rickard, 2009).

    Sort the magnitudes ascending, `c_(1) <= ... <= c_(N)`; then
    `G(c) = 1 - 2 * sum_k (c_(k) / ||c||_1) * (N - k + 1/2) / N`.
    It is scale invariant, 0 for a constant vector, `1 - 1/N` for a one-hot vector,
    and the only common measure meeting all six of Hurley & Rickard's criteria. The
    all-zero vector is defined as 0.

    Args:
        x: array or tensor with at least 1 entry along `axis`.
        axis: int, the axis holding the vector. Defaults to `-1`.

    Returns:
        A Python float for a 1-D `x`, otherwise a float64 array with `axis` removed.

    Example:

    >>> gini([0.0, 0.0, 0.0, 5.0])
    0.75
    """
    array = _to_numpy("x", x, min_ndim=1)
    axis = _check_axis(axis, array.ndim, allow_none=False)
    c = np.sort(np.abs(np.moveaxis(array, axis, -1)), axis=-1)
    n = c.shape[-1]
    total = c.sum(axis=-1, keepdims=True)
    weights = (n - np.arange(1, n + 1) + 0.5) / n
    share = c / np.where(total > 0, total, 1.0)
    result = np.where(total[..., 0] > 0, 1.0 - 2.0 * (share * weights).sum(-1), 0.0)
    return float(result) if result.ndim == 0 else result


def dead_units(
    activations: Any, threshold: float = 0.0, *, return_mask: bool = False
) -> float | np.ndarray:
    """Fraction of units that are never active over a dataset.

    Axis 0 of `activations` indexes samples; every other entry is a unit (a
    convolutional map counts each position and channel separately). A unit is dead
    when `|a_{s,u}| <= threshold` for every sample `s`; the result is
    `#{dead units} / #{units}`.

    Args:
        activations: array or tensor of shape `(n_samples, ...)`.
        threshold: float >= 0, magnitudes up to this count as inactive. Defaults to
            `0.0`.
        return_mask: bool, return the boolean mask of dead units (shape
            `activations.shape[1:]`) instead of the fraction. Defaults to `False`.

    Returns:
        A Python float in `[0, 1]`, or a boolean array when `return_mask=True`.

    Example:

    >>> dead_units([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    0.3333333333333333
    """
    threshold = check_float("threshold", threshold, low=0.0)
    if not isinstance(return_mask, bool):
        raise invalid_argument("return_mask", "a bool", return_mask)
    array = _to_numpy("activations", activations, min_ndim=2)
    mask = np.all(np.abs(array) <= threshold, axis=0)
    return mask if return_mask else float(mask.mean())


def lifetime_sparsity(activations: Any) -> np.ndarray:
    """Per-unit lifetime sparseness (selectivity) over samples.

    The Treves–Rolls measure as normalised by Willmore & Tolhurst (2001): for one
    unit with responses `r_1..r_n` over `n >= 2` samples (magnitudes are used),
    `S = (1 - (sum_i r_i / n)^2 / (sum_i r_i^2 / n)) / (1 - 1/n)`.
    S is 1 for a unit that responds to a single sample and 0 for one that responds
    equally to all (a unit that never responds also gets 0; see `dead_units`).

    Args:
        activations: array or tensor of shape `(n_samples, ...)`, `n_samples >= 2`.

    Returns:
        A float64 array of shape `activations.shape[1:]`, values in `[0, 1]`.

    Example:

    >>> lifetime_sparsity([[1.0, 1.0], [0.0, 1.0]])
    array([1., 0.])
    """
    array = _to_numpy("activations", activations, min_ndim=2)
    if array.shape[0] < 2:
        expected = "an array with at least 2 samples"
        raise invalid_argument("activations", expected, f"<array of {array.shape}>")
    return _treves_rolls(np.abs(array), axis=0)


def population_sparsity(activations: Any) -> np.ndarray:
    """Per-sample population sparseness over units.

    The Treves–Rolls / Willmore & Tolhurst (2001) measure of `lifetime_sparsity`,
    taken across the `n >= 2` units of one sample (all non-sample axes flattened):
    `S = (1 - (sum_j r_j / n)^2 / (sum_j r_j^2 / n)) / (1 - 1/n)` with `r = |a|`.
    1 when a single unit is active, 0 when all are equally active (or all silent).

    Args:
        activations: array or tensor of shape `(n_samples, ...)`, at least 2 units.

    Returns:
        A float64 array of shape `(n_samples,)`, values in `[0, 1]`.

    Example:

    >>> population_sparsity([[0.0, 3.0], [1.0, 1.0]])
    array([1., 0.])
    """
    return _treves_rolls(_per_sample("activations", activations, 2), axis=1)


def code_overlap(
    codes: Any, labels: Any, threshold: float = 0.0, *, measure: str = "jaccard"
) -> np.ndarray:
    """Mean overlap between the active sets of codes of each pair of classes.

    Each code is binarised to its active set `A_i = {j : |code_ij| > threshold}`.
    For samples `i`, `j` the overlap is the Jaccard index
    `|A_i ∩ A_j| / |A_i ∪ A_j|` (`measure="jaccard"`) or the cosine of the binary
    vectors `|A_i ∩ A_j| / sqrt(|A_i| |A_j|)` (`measure="cosine"`), and 0 when
    either set is empty. Entry `[a, b]` is the mean overlap over all pairs with
    `i` in class `a` and `j` in class `b`, excluding `i == j`; a diagonal entry for
    a class with a single sample is NaN. High diagonal and low off-diagonal values
    mean classes use distinct units.

    Args:
        codes: array or tensor of shape `(n_samples, ...)`; non-sample axes are
            flattened into units.
        labels: integer class labels of shape `(n_samples,)`, or one-hot labels of
            shape `(n_samples, n_classes)`.
        threshold: float >= 0, magnitudes above this are active. Defaults to `0.0`.
        measure: str, `"jaccard"` or `"cosine"`. Defaults to `"jaccard"`.

    Returns:
        A symmetric float64 array of shape `(n_classes, n_classes)`; rows and
        columns follow `np.unique(labels)` (sorted).

    Example:

    >>> code_overlap([[1, 1, 0], [1, 1, 0], [0, 0, 1]], [0, 0, 1])
    array([[ 1.,  0.],
           [ 0., nan]])
    """
    threshold = check_float("threshold", threshold, low=0.0)
    measure = check_choice("measure", measure, ("jaccard", "cosine"))
    active = (_per_sample("codes", codes) > threshold).astype(np.float64)
    labels = np.asarray(keras.ops.convert_to_numpy(labels))
    if labels.ndim == 2:
        labels = labels.argmax(axis=1)
    if labels.shape != (active.shape[0],):
        expected = f"labels of shape ({active.shape[0]},) matching `codes`"
        raise invalid_argument("labels", expected, f"<array of shape {labels.shape}>")
    classes = np.unique(labels)
    sizes = active.sum(axis=1)
    groups = [np.flatnonzero(labels == c) for c in classes]
    result = np.empty((len(classes), len(classes)))
    for a, rows_a in enumerate(groups):
        for b in range(a, len(classes)):
            rows_b = groups[b]
            # Blocks per class pair keep memory at n_a * n_b, not n_samples^2.
            inter = active[rows_a] @ active[rows_b].T
            size_a, size_b = sizes[rows_a][:, None], sizes[rows_b][None, :]
            if measure == "jaccard":
                denom = size_a + size_b - inter
            else:
                denom = np.sqrt(size_a * size_b)
            pair = np.where(denom > 0, inter / np.where(denom > 0, denom, 1.0), 0.0)
            if a == b:
                n = len(rows_a)
                off = pair.sum() - np.trace(pair)
                value = off / (n * (n - 1)) if n > 1 else np.nan
            else:
                value = pair.mean()
            result[a, b] = result[b, a] = value
    return result
