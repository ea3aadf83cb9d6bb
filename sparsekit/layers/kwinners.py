"""KWinners: k-winners-take-all with homeostatic boosting (Ahmad & Scheinkman 2019)."""

from __future__ import annotations

import keras
from keras import ops

from sparsekit._validation import check_bool, check_float, check_int, invalid_argument
from sparsekit.layers.topk import competing_units
from sparsekit.ops.topk import topk_mask


@keras.saving.register_keras_serializable(package="sparsekit")
class KWinners(keras.layers.Layer):
    """k-winners-take-all whose winners are chosen on duty-cycle-boosted values.

    Every unit `i` (each non-batch position of the input, flattened to `n` units)
    keeps a running duty cycle `d_i`, the fraction of recent samples it won. In
    training the winners are the `k` largest boosted values `x_i * b_i` with

        b_i = exp(boost_strength * (k / n - d_i)),

    so units that win less often than the target rate `k / n` are boosted and units
    that win too often are damped; this keeps units from dying. The layer outputs
    the *unboosted* values of the winners, `x * mask`, with the mask under
    `stop_gradient` (gradient reaches the winners only).

    After each training call the duty cycle moves towards this batch's win rate,

        s <- min(s + B, duty_cycle_period)
        d <- d + min(1, B / s) * (mean_over_batch(mask) - d),

    with `B` the batch size and `s` the number of samples seen (capped), which is
    the update of Numenta's `nupic.torch` `KWinners`: an exact mean over the first
    `duty_cycle_period` samples, then an exponential average with that period.
    Duty cycles are non-trainable weights saved with the model. Under
    `tf.distribute` each replica updates from its own batch and the replicas'
    results are averaged (variable aggregation `"mean"`), so the period is counted
    in per-replica samples; under JAX data parallelism the update sees the global
    batch.

    At inference (`training=False`) the duty cycle is left alone and, by default,
    no boosting is applied: the layer is a plain top-k with
    `k_inference = round(k * k_inference_factor)` winners. Set
    `boost_inference=True` to also boost at inference, as `nupic.torch` does.
    With a strong constant `boost_strength` the unboosted inference winners can
    differ from the ones the next layer was trained on (a digits MLP in the book
    fell from 99.8 % to 81 % on its own training set); then either boost at
    inference too or lower `boost_strength` towards the end of training.

    Args:
        k: int, number of winners per sample in training, in `[1, n]`.
        boost_strength: float >= 0, the boost factor `beta`; 0 disables boosting.
            Defaults to `1.0`.
        duty_cycle_period: int >= 1, the number of samples the duty cycle averages
            over. Defaults to `1000`.
        k_inference_factor: float >= 1, winners at inference are
            `min(n, round(k * k_inference_factor))`; the paper uses 1.5.
            Defaults to `1.0`.
        boost_inference: bool, whether inference also picks winners on boosted
            values. Defaults to `False`.
        **kwargs: base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: tensor of rank >= 2, `(batch, ...)`, with all non-batch dimensions
            known.
        training: bool, whether to boost and update the duty cycle.

    Returns:
        A tensor of the input's shape and dtype with the winners' values and zeros
        elsewhere.

    Example:

    >>> layer = sk.layers.KWinners(k=2, boost_strength=1.5, duty_cycle_period=100)
    >>> y = layer(np.random.rand(8, 10).astype("float32"), training=True)
    >>> keras.ops.convert_to_numpy(keras.ops.sum(layer.duty_cycle))  # = k
    2.0
    """

    def __init__(
        self,
        k: int,
        boost_strength: float = 1.0,
        duty_cycle_period: int = 1000,
        k_inference_factor: float = 1.0,
        boost_inference: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.k = check_int("k", k, low=1)
        self.boost_strength = check_float("boost_strength", boost_strength, low=0.0)
        self.duty_cycle_period = check_int(
            "duty_cycle_period", duty_cycle_period, low=1
        )
        self.k_inference_factor = check_float(
            "k_inference_factor", k_inference_factor, low=1.0
        )
        self.boost_inference = check_bool("boost_inference", boost_inference)

    def build(self, input_shape):
        n = competing_units(type(self).__name__, self.k, None, input_shape)
        if n is None:
            raise invalid_argument(
                "input_shape", "all non-batch dimensions known", tuple(input_shape)
            )
        self.units = n
        self.k_inference = min(n, round(self.k * self.k_inference_factor))
        # "mean": replicas each update from their own batch and are averaged.
        self.duty_cycle = self.add_weight(
            shape=tuple(input_shape[1:]),
            initializer="zeros",
            trainable=False,
            autocast=False,
            aggregation="mean",
            name="duty_cycle",
        )
        self.samples_seen = self.add_weight(
            shape=(),
            initializer="zeros",
            trainable=False,
            autocast=False,
            aggregation="mean",
            name="samples_seen",
        )
        self.built = True

    def boost(self):
        """Returns the current boost factors `b`, shaped like one sample."""
        target = self.k / self.units
        return ops.exp(self.boost_strength * (target - self.duty_cycle))

    def call(self, inputs, training=None):
        if training or self.boost_inference:
            scores = inputs * ops.cast(self.boost(), inputs.dtype)
        else:
            scores = inputs
        k = self.k if training else self.k_inference
        mask = ops.stop_gradient(topk_mask(scores, k))
        if training:
            self._update_duty_cycle(mask)
        return inputs * mask

    def _update_duty_cycle(self, mask):
        batch = ops.cast(ops.shape(mask)[0], "float32")
        seen = ops.minimum(self.samples_seen + batch, float(self.duty_cycle_period))
        rate = ops.minimum(1.0, batch / seen)
        wins = ops.mean(ops.cast(mask, "float32"), axis=0)
        self.duty_cycle.assign(self.duty_cycle + rate * (wins - self.duty_cycle))
        self.samples_seen.assign(seen)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        base_config = super().get_config()
        config = {
            "k": self.k,
            "boost_strength": self.boost_strength,
            "duty_cycle_period": self.duty_cycle_period,
            "k_inference_factor": self.k_inference_factor,
            "boost_inference": self.boost_inference,
        }
        return {**base_config, **config}
