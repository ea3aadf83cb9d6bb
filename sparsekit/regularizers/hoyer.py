"""Hoyer and HoyerSquare: the scale-invariant DeepHoyer regularisers."""

from __future__ import annotations

import keras
from keras import ops

from sparsekit._validation import check_axes, check_float, invalid_argument

SAMPLE = "sample"
_AXIS_EXPECTED = '"sample", None, an int or a sequence of distinct ints'


def _reduction_axes(axis: str | int | tuple[int, ...] | None, ndim: int) -> tuple:
    """The axes one Hoyer ratio is taken over, for a tensor of rank `ndim`."""
    if axis is None:
        return tuple(range(ndim))
    if axis == SAMPLE:
        if ndim < 2:
            raise invalid_argument(
                "axis",
                '"sample" only for tensors of rank >= 2 (batch first); use '
                f"axis=None for a tensor of rank {ndim}",
                axis,
            )
        return tuple(range(1, ndim))
    axes = (axis,) if isinstance(axis, int) else axis
    if any(not -ndim <= a < ndim for a in axes):
        raise invalid_argument("axis", f"axes of a tensor of rank {ndim}", axis)
    normalized = tuple(sorted({a % ndim for a in axes}))
    if len(normalized) != len(axes):
        raise invalid_argument("axis", "distinct axes", axis)
    return normalized


class _HoyerBase(keras.regularizers.Regularizer):
    """Shared code of `Hoyer` and `HoyerSquare`; subclasses set `_squared`."""

    _squared = False

    def __init__(self, strength: float = 0.01, axis=SAMPLE):
        self.strength = check_float("strength", strength, low=0.0)
        self.axis = check_axes(
            "axis", axis, expected=_AXIS_EXPECTED, keywords=(None, SAMPLE)
        )

    def __call__(self, x):
        # Mixed precision hands in bfloat16; the norms need float32.
        x = ops.cast(x, "float32")
        axes = _reduction_axes(self.axis, len(x.shape))
        l1 = ops.sum(ops.abs(x), axis=axes)
        sum_sq = ops.sum(ops.square(x), axis=axes)
        # Double `where`: exact ratio (so exact scale invariance) for x != 0, and a
        # value and gradient of 0 (not NaN) where the whole slice is 0.
        nonzero = sum_sq > 0
        safe_sum_sq = ops.where(nonzero, sum_sq, 1.0)
        if self._squared:
            ratio = ops.square(l1) / safe_sum_sq
        else:
            ratio = l1 / ops.sqrt(safe_sum_sq)
        ratio = ops.where(nonzero, ratio, 0.0)
        return self.strength * ops.sum(ratio)

    def get_config(self) -> dict:
        # The base Regularizer.get_config raises, so there is no base config to merge.
        axis = list(self.axis) if isinstance(self.axis, tuple) else self.axis
        return {"strength": self.strength, "axis": axis}


_DOC_AXIS = """
    Which values form one ratio is set by `axis`:

    - `"sample"` (the default, for `activity_regularizer`): one ratio per sample,
      over all axes but the first. The returned value is the *sum* over samples;
      Keras divides an activity regulariser's value by the batch size, so the loss
      a layer adds is `strength` times the mean ratio over samples.
    - `None` (for `kernel_regularizer`): one ratio over the whole tensor, as in
      DeepHoyer, which regularises each layer's weights as a whole.
    - an int or a sequence of ints: one ratio per slice along those axes, summed
      over all other axes (e.g. `axis=-1` for one ratio per position of a feature
      map, over channels).

    A slice that is entirely zero contributes 0 with a zero gradient (no epsilon
    is added, so the ratio is exactly scale invariant elsewhere).
"""


@keras.saving.register_keras_serializable(package="sparsekit")
class Hoyer(_HoyerBase):
    """Hoyer regulariser: the ratio of the L1 to the L2 norm, scale invariant.

    `H(x) = ||x||_1 / ||x||_2` (Yang, Wen & Li 2020, "DeepHoyer"). It lies between
    1 (one nonzero entry) and `sqrt(n)` (all magnitudes equal) for `n` entries and
    does not change when `x` is multiplied by a nonzero constant, so, unlike L1, it
    cannot be lowered by shrinking all values together: only by making them
    sparser. The penalty is `strength * sum(H(x_slice))` over the slices chosen by
    `axis`.
    {axis}
    Args:
        strength: float >= 0, the weight of the penalty. Defaults to `0.01`.
        axis: `"sample"`, `None`, an int or a sequence of ints; see above.
            Defaults to `"sample"`.

    Returns:
        A scalar float32 tensor.

    Example:

    >>> activity = sk.regularizers.Hoyer(strength=1e-3)
    >>> weights = sk.regularizers.Hoyer(strength=1e-4, axis=None)
    >>> layer = keras.layers.Dense(
    ...     64, activation="relu", activity_regularizer=activity,
    ...     kernel_regularizer=weights,
    ... )
    """

    _squared = False


@keras.saving.register_keras_serializable(package="sparsekit")
class HoyerSquare(_HoyerBase):
    """Hoyer-Square regulariser: the squared ratio of the L1 to the L2 norm.

    `HS(x) = ||x||_1^2 / ||x||_2^2` (Yang, Wen & Li 2020, "DeepHoyer"), scale
    invariant like `Hoyer` and ranging from 1 (one nonzero entry) to `n` (all
    magnitudes equal) for `n` entries. DeepHoyer found it prunes weights better
    than the plain ratio because its gradient is closer to that of the L0 norm.
    The penalty is `strength * sum(HS(x_slice))` over the slices chosen by `axis`.
    {axis}
    Args:
        strength: float >= 0, the weight of the penalty. Defaults to `0.01`.
        axis: `"sample"`, `None`, an int or a sequence of ints; see above.
            Defaults to `"sample"`.

    Returns:
        A scalar float32 tensor.

    Example:

    >>> layer = keras.layers.Dense(
    ...     64, kernel_regularizer=sk.regularizers.HoyerSquare(1e-4, axis=None)
    ... )
    """

    _squared = True


Hoyer.__doc__ = Hoyer.__doc__.replace("{axis}", _DOC_AXIS)
HoyerSquare.__doc__ = HoyerSquare.__doc__.replace("{axis}", _DOC_AXIS)
