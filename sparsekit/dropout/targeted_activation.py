"""TargetedActivationDropout: dropout of each sample's weakest activations."""

from __future__ import annotations

import math

import keras
from keras import ops

from sparsekit._validation import check_bool, check_float, check_int
from sparsekit.dropout.targeted import n_candidates


@keras.saving.register_keras_serializable(package="sparsekit")
class TargetedActivationDropout(keras.layers.Layer):
    """Drops only the smallest-magnitude activations of each sample.

    This is *not* Gomez et al.'s targeted dropout, which ranks weights: that is
    `TargetedDropoutDense`. This layer applies the same candidate rule to a
    layer's activations instead, so the candidates change from sample to sample.
    (sparsekit 0.1.0 called it `TargetedDropout`.)

    For each sample, the units (all non-batch positions, flattened) are ranked by
    `|x|`; the `floor(target_rate * n_units)` smallest are the *candidates*, ties
    broken so the count is exact. In training each candidate is zeroed
    independently with probability `rate`; units outside the candidate set are
    never dropped. The network thus learns not to rely on each sample's weakest
    units, so that zeroing them at inference (a per-sample top-k code) costs
    little.

    As in Gomez et al., kept values are not rescaled: the dropped units are the
    small ones, which are meant to be pruned, not averaged. At inference the
    layer is the identity, or, with `prune_at_inference=True`, zeroes every
    candidate (the pruned code the training prepared for).

    Args:
        rate: float in `[0, 1]`, probability of dropping each candidate in training.
            `1` drops every candidate (training with the pruning itself); there is
            no `1 / (1 - rate)` scaling, so it is allowed.
        target_rate: float in `[0, 1]`, fraction of each sample's units that are
            candidates.
        seed: int >= 0 or `None`, seed of the layer's `keras.random.SeedGenerator`.
            Defaults to `None`.
        prune_at_inference: bool, whether to zero all candidates at inference.
            Defaults to `False` (identity).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor of shape `(batch, ...)` with static non-batch dimensions.
        training: bool, whether to drop candidates at random. Defaults to `None`
            (inference).

    Returns:
        A tensor of the shape and dtype of `inputs`.

    Example:

    >>> layer = sk.dropout.TargetedActivationDropout(rate=0.5, target_rate=0.5, seed=0)
    >>> y = layer(np.random.normal(size=(8, 16)).astype("float32"), training=True)
    """

    def __init__(
        self,
        rate: float,
        target_rate: float,
        seed: int | None = None,
        prune_at_inference: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.rate = check_float("rate", rate, low=0.0, high=1.0)
        self.target_rate = check_float("target_rate", target_rate, low=0.0, high=1.0)
        self.seed = None if seed is None else check_int("seed", seed, low=0)
        self.prune_at_inference = check_bool("prune_at_inference", prune_at_inference)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def build(self, input_shape):
        if None in tuple(input_shape[1:]):
            raise ValueError(
                "Invalid value for argument `input_shape`: TargetedActivationDropout "
                "needs static non-batch dimensions to rank units. "
                f"Received: input_shape={tuple(input_shape)}"
            )

    def call(self, inputs, training=None):
        units = math.prod(inputs.shape[1:])
        k = n_candidates(self.target_rate, units)
        if training:
            active = self.rate > 0
        else:
            active = self.prune_at_inference
        if not active or k == 0:
            return inputs
        flat = ops.reshape(inputs, (-1, units))
        # Rank of each |x| within its sample; the k lowest ranks are the candidates.
        magnitude = ops.abs(ops.cast(flat, "float32"))
        ranks = ops.argsort(ops.argsort(magnitude, axis=-1), axis=-1)
        drop = ops.less(ranks, k)
        if training and self.rate < 1:
            noise = keras.random.uniform(ops.shape(flat), seed=self.seed_generator)
            drop = ops.logical_and(drop, ops.less(noise, self.rate))
        outputs = ops.where(drop, ops.zeros_like(flat), flat)
        return ops.reshape(outputs, ops.shape(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        base_config = super().get_config()
        config = {
            "rate": self.rate,
            "target_rate": self.target_rate,
            "seed": self.seed,
            "prune_at_inference": self.prune_at_inference,
        }
        return {**base_config, **config}
