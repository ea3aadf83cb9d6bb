"""TopK: keep the k largest activations of each sample, zero the rest."""

from __future__ import annotations

import math
import numbers

import keras
from keras import ops

from sparsekit._validation import check_int, invalid_argument
from sparsekit.ops.topk import normalize_axis, topk_mask


def check_axis_init(axis: object) -> int | None:
    """Checks the `axis` argument of the top-k layers before the rank is known."""
    if axis is None:
        return None
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or axis == 0:
        raise invalid_argument("axis", "None or a non-batch axis (a nonzero int)", axis)
    return int(axis)


def competing_units(
    layer_name: str, k: int, axis: int | None, input_shape
) -> int | None:
    """Number of units that compete per sample; raises if `k` exceeds it."""
    rank = len(input_shape)
    if rank < 2:
        raise ValueError(
            f"Invalid value for argument `input_shape`: {layer_name} expects inputs "
            f"of rank >= 2 (batch, ...). Received: input_shape={tuple(input_shape)}"
        )
    if axis is None:
        dims = tuple(input_shape[1:])
        n = math.prod(dims) if None not in dims else None
    else:
        normalized = normalize_axis(axis, rank)
        if normalized == 0:
            raise invalid_argument("axis", "a non-batch axis", axis)
        n = input_shape[normalized]
    if n is not None and k > n:
        raise invalid_argument("k", f"an integer in [1, {n}] (the number of units)", k)
    return n


@keras.saving.register_keras_serializable(package="sparsekit")
class TopK(keras.layers.Layer):
    """Keeps the `k` largest activations of each sample and zeros the others.

    The output is `x * m`, where `m = sk.ops.topk_mask(x, k, axis=axis)` has exactly
    `k` ones per sample (the largest *values*, not magnitudes; ties go to the lowest
    index). The mask is held under `stop_gradient`, so the gradient is the upstream
    gradient on the `k` kept units and exactly zero on the dropped ones, as in the
    k-sparse autoencoder (Makhzani & Frey, 2014).

    Args:
        k: int, number of units kept per sample, at least 1 and at most the number
            of competing units (checked in `build`).
        axis: int or `None`. `None` lets all non-batch axes compete together (a
            `(batch, h, w, c)` feature map keeps `k` of its `h * w * c` values);
            an integer axis keeps `k` along that axis only (for example `-1`: `k`
            channels per position). Defaults to `None`.
        **kwargs: base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: tensor of rank >= 2, `(batch, ...)`.

    Returns:
        A tensor of the input's shape and dtype with at most `k` nonzero entries per
        sample (fewer where a kept value is itself zero).

    Example:

    >>> layer = sk.layers.TopK(k=2)
    >>> keras.ops.convert_to_numpy(layer(np.array([[0.1, 0.3, 0.7, 0.4]])))
    array([[0. , 0. , 0.7, 0.4]], dtype=float32)
    """

    def __init__(self, k: int, axis: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.k = check_int("k", k, low=1)
        self.axis = check_axis_init(axis)

    def build(self, input_shape):
        competing_units(type(self).__name__, self.k, self.axis, input_shape)
        self.built = True

    def call(self, inputs):
        mask = ops.stop_gradient(topk_mask(inputs, self.k, axis=self.axis))
        return inputs * mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        base_config = super().get_config()
        config = {"k": self.k, "axis": self.axis}
        return {**base_config, **config}
