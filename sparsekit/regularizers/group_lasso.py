"""GroupLasso: an L2 norm per group of weights, summed, to prune whole groups."""

from __future__ import annotations

import math

import keras
from keras import ops

from sparsekit._validation import check_axes, check_float, invalid_argument

_AXIS_EXPECTED = "None, an int or a sequence of distinct ints"


@keras.saving.register_keras_serializable(package="sparsekit")
class GroupLasso(keras.regularizers.Regularizer):
    """Group lasso kernel regulariser: drives whole groups of weights to zero.

    The kernel `W` is split into groups `W_g` and the penalty is

    ```
    strength * sum_g sqrt(p_g) * ||W_g||_2
    ```

    with `p_g` the number of weights in group `g` (Yuan & Lin 2006). The L2 norm
    is not differentiable at `W_g = 0` as a whole, so, like the L1 norm for single
    weights, it sets entire groups exactly to zero; `sqrt(p_g)` keeps large groups
    from being penalised less per weight than small ones.

    `axis` names the axis (or axes) that *index* the groups; the norm runs over all
    the other axes. The default `axis=-1` makes one group per output unit: a
    column of a `Dense` kernel `(in, units)`, or a whole filter
    `(kh, kw, in_channels)` of a `Conv2D` kernel `(kh, kw, in_channels, filters)`,
    so that it prunes whole units or filters. `axis=0` on a `Dense` kernel groups
    the weights of each input feature (feature selection); `axis=None` makes the
    whole tensor one group.

    A group that is entirely zero contributes 0 with a zero gradient (no NaN from
    the square root).

    Args:
        strength: float >= 0, the weight of the penalty. Defaults to `0.01`.
        axis: `None`, an int or a sequence of ints, the axes that index the groups.
            Defaults to `-1` (one group per output unit).

    Returns:
        A scalar float32 tensor.

    Example:

    >>> layer = keras.layers.Dense(
    ...     64, kernel_regularizer=sk.regularizers.GroupLasso(strength=1e-3)
    ... )
    """

    def __init__(self, strength: float = 0.01, axis=-1):
        self.strength = check_float("strength", strength, low=0.0)
        self.axis = check_axes("axis", axis, expected=_AXIS_EXPECTED)

    def _norm_axes(self, ndim: int) -> tuple[int, ...]:
        """The axes reduced within a group, for a kernel of rank `ndim`."""
        if self.axis is None:
            return tuple(range(ndim))
        axes = (self.axis,) if isinstance(self.axis, int) else self.axis
        if any(not -ndim <= a < ndim for a in axes):
            raise invalid_argument(
                "axis", f"axes of a tensor of rank {ndim}", self.axis
            )
        kept = {a % ndim for a in axes}
        if len(kept) != len(axes):
            raise invalid_argument("axis", "distinct axes", self.axis)
        return tuple(a for a in range(ndim) if a not in kept)

    def __call__(self, x):
        # Mixed precision may hand in bfloat16; the norms need float32.
        x = ops.cast(x, "float32")
        norm_axes = self._norm_axes(len(x.shape))
        group_size = math.prod(x.shape[a] for a in norm_axes)
        sum_sq = ops.sum(ops.square(x), axis=norm_axes)
        # Double `where`: sqrt has an infinite derivative at 0.
        nonzero = sum_sq > 0
        norms = ops.where(nonzero, ops.sqrt(ops.where(nonzero, sum_sq, 1.0)), 0.0)
        return self.strength * math.sqrt(group_size) * ops.sum(norms)

    def get_config(self) -> dict:
        # The base Regularizer.get_config raises, so there is no base config to merge.
        axis = list(self.axis) if isinstance(self.axis, tuple) else self.axis
        return {"strength": self.strength, "axis": axis}
