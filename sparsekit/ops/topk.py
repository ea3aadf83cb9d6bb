"""The top-k mask: which units of each sample survive a k-winners selection."""

from __future__ import annotations

import math
import numbers
from typing import Any

from keras import ops

from sparsekit._validation import check_int, invalid_argument


def topk_mask(x: Any, k: int, *, axis: int | None = None) -> Any:
    """Returns a 0/1 mask marking the `k` largest values of each sample.

    With `axis=None` a sample is everything but the leading batch axis: a tensor of
    shape `(batch, d1, ..., dm)` is flattened to `(batch, d1 * ... * dm)` and exactly
    `k` entries per batch row are set, so a convolutional feature map competes as a
    whole. With an integer `axis` the selection runs independently along that axis
    (for example `axis=-1`: `k` winners per spatial position, among the channels).

    Values are compared as signed numbers, not magnitudes. Exactly `k` ones are set
    even when values tie: among equal values at the threshold the lowest indices (in
    row-major order of the flattened sample) win. This is computed from the k-th
    largest value `t` of each sample as

        mask = (x > t) | ((x == t) & (cumsum(x == t) <= k - count(x > t)))

    so the result does not depend on how a backend's `top_k` orders ties. NaN
    inputs give an unspecified mask.

    Args:
        x: tensor of rank >= 2 (`axis=None`) or rank >= 1 (integer `axis`).
        k: int, number of winners per sample, in `[1, n]` where `n` is the number
            of entries competing (checked when the shape is known).
        axis: int or `None`, the axis along which units compete, or `None` for all
            non-batch axes together. Defaults to `None`.

    Returns:
        A tensor with the shape and dtype of `x`, holding exactly `k` ones per
        sample and zeros elsewhere. It carries no useful gradient; wrap it in
        `keras.ops.stop_gradient` when multiplying activations by it.

    Example:

    >>> x = np.array([[0.5, 2.0, -1.0, 2.0], [1.0, 1.0, 1.0, 1.0]])
    >>> keras.ops.convert_to_numpy(sk.ops.topk_mask(x, 2))
    array([[0., 1., 0., 1.],
           [1., 1., 0., 0.]])
    """
    k = check_int("k", k, low=1)
    x = ops.convert_to_tensor(x)
    shape = tuple(x.shape)
    rank = len(shape)
    if axis is None:
        if rank < 2:
            raise _rank_error(shape, "rank >= 2 (batch, ...) when axis=None")
        static_n = shape[1:]
        n = math.prod(static_n) if None not in static_n else None
    else:
        axis = normalize_axis(axis, rank)
        n = shape[axis]
    if n is not None and k > n:
        raise invalid_argument("k", f"an integer in [1, {n}] (units per sample)", k)

    if axis is None:
        flat = ops.reshape(x, (-1, n) if n is not None else (ops.shape(x)[0], -1))
        return ops.reshape(_kernel(flat, k), ops.shape(x))
    if axis == rank - 1:
        return _kernel(x, k)
    moved = ops.moveaxis(x, axis, -1)
    return ops.moveaxis(_kernel(moved, k), -1, axis)


def _kernel(x: Any, k: int) -> Any:
    """Mask of the k largest entries along the last axis, ties to the lowest index."""
    # Unsorted top-k is ~2x cheaper than sorted on CPU; its minimum is the k-th value.
    values, _ = ops.top_k(x, k, sorted=False)
    threshold = ops.min(values, axis=-1, keepdims=True)
    at_least = ops.greater_equal(x, threshold)
    no_ties = ops.all(ops.equal(ops.sum(ops.cast(at_least, "int32"), axis=-1), k))
    # The cumulative count that settles ties costs as much as the top-k itself,
    # so it only runs when some row has more than k entries at its threshold.
    return ops.cond(
        no_ties,
        lambda: ops.cast(at_least, x.dtype),
        lambda: _break_ties(x, threshold, k),
    )


def _break_ties(x: Any, threshold: Any, k: int) -> Any:
    greater = ops.cast(ops.greater(x, threshold), "int32")
    equal = ops.cast(ops.equal(x, threshold), "int32")
    # Fewer than k entries lie strictly above the k-th value; the rest of the
    # winners are the first ties in index order.
    free_slots = k - ops.sum(greater, axis=-1, keepdims=True)
    first_ties = equal * ops.cast(ops.cumsum(equal, axis=-1) <= free_slots, "int32")
    return ops.cast(greater + first_ties, x.dtype)


def normalize_axis(axis: Any, rank: int) -> int:
    """Returns `axis` in `[0, rank)`; shared with the layers built on the mask."""
    if (
        isinstance(axis, bool)
        or not isinstance(axis, numbers.Integral)
        or not -rank <= axis < rank
    ):
        raise invalid_argument(
            "axis", f"None or an integer in [{-rank}, {rank - 1}]", axis
        )
    return int(axis) % rank


def _rank_error(shape: tuple, expected: str) -> ValueError:
    return ValueError(
        f"Invalid value for argument `x`: expected a tensor of {expected}. "
        f"Received: x.shape={shape}"
    )
