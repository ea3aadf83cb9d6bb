"""Targeted dropout (Gomez et al. 2019): dropout of the weakest weights or units."""

from __future__ import annotations

import math

import keras
from keras import ops

from sparsekit._validation import check_bool, check_choice, check_float, check_int

VARIANTS = ("weight", "unit")


def n_candidates(target_rate: float, n: int) -> int:
    """`floor(target_rate * n)`, robust to float error such as 0.7 * 10."""
    return min(n, math.floor(target_rate * n + 1e-9))


def _lowest(values, k: int):
    """Bool mask of the `k` smallest entries of each column of a 2D `values`.

    Exactly `k` per column: the k-th smallest value is the threshold (one partial
    sort, `top_k`, instead of ranking every entry), entries below it are in, and
    among entries equal to it the lowest rows are taken first.
    """
    n = values.shape[0]
    if k <= 0:
        return ops.zeros(ops.shape(values), "bool")
    if k >= n:
        return ops.ones(ops.shape(values), "bool")
    rows = ops.transpose(values)  # top_k works along the last axis
    if k <= n - k + 1:
        threshold = -ops.top_k(-rows, k)[0][:, k - 1]
    else:
        threshold = ops.top_k(rows, n - k + 1)[0][:, n - k]
    threshold = threshold[None, :]
    below = ops.less(values, threshold)
    tied = ops.equal(values, threshold)
    missing = k - ops.sum(ops.cast(below, "int32"), axis=0, keepdims=True)
    tie_order = ops.cumsum(ops.cast(tied, "int32"), axis=0)
    return ops.logical_or(below, ops.logical_and(tied, tie_order <= missing))


def _candidates(kernel, target_rate: float, variant: str):
    # Rank in float32 whatever the compute dtype, so bfloat16 ties do not merge.
    kernel = ops.cast(kernel, "float32")
    n_in, n_out = kernel.shape[0], kernel.shape[-1]
    if variant == "weight":
        # Each output column ranks its own incoming weights by |w|.
        return _lowest(ops.abs(kernel), n_candidates(target_rate, n_in))
    # Each output unit is ranked by the L2 norm of its weight column.
    norms = ops.sqrt(ops.sum(ops.square(kernel), axis=0))
    units = _lowest(norms[:, None], n_candidates(target_rate, n_out))
    return ops.broadcast_to(ops.transpose(units), ops.shape(kernel))


@keras.saving.register_keras_serializable(package="sparsekit")
class TargetedDropoutDense(keras.layers.Dense):
    """Dense layer trained with targeted dropout on its kernel (Gomez et al. 2019).

    On every training step the kernel's weakest weights are ranked afresh and the
    lowest fraction `gamma = target_rate` become *candidates*; each candidate is
    dropped independently with probability `alpha = rate`, and no weight outside
    the candidate set is ever dropped:

    ```
    C = layer.candidates()            # this step's weakest weights
    M_ij ~ Bernoulli(rate) on C, 0 elsewhere
    output = activation(inputs @ ((1 - M) * kernel) + bias)
    ```

    - `variant="weight"`: within each output column the `floor(gamma * n_in)`
      weights of smallest `|w|` are candidates, each dropped on its own.
    - `variant="unit"`: the `floor(gamma * units)` output units with the smallest
      weight-column L2 norm are candidates; a dropped unit loses its whole column.
      (The authors' `targeted_unit_dropout` draws one Bernoulli per weight of a
      candidate column; the paper describes dropping units.)

    About `(1 - gamma * alpha)` of the weights are used per step. The network
    learns to do without its weakest weights, which is what pruning will remove:
    at inference (`prune_at_inference=True`, the default, as in the authors'
    code) every candidate is zeroed, so the deployed layer has
    `floor(gamma * n_in)` zeros per column (or `floor(gamma * units)` zero
    columns). As in the paper, kept weights are not rescaled. The bias is never
    dropped. One mask is drawn per call and shared by the batch. Gomez et al. also
    ramp `gamma` up during training; this layer holds it fixed.

    Args:
        units: int >= 1, dimensionality of the output space.
        rate: float in `[0, 1]`, `alpha`, the probability of dropping each
            candidate in training. `1` trains with the candidates pruned.
        target_rate: float in `[0, 1]`, `gamma`, the targeted fraction.
        variant: str, `"weight"` or `"unit"`. Defaults to `"weight"`.
        seed: int >= 0 or `None`, seed of the layer's `keras.random.SeedGenerator`.
            Defaults to `None`.
        prune_at_inference: bool, whether to zero every candidate at inference.
            `False` gives the plain dense layer at inference. Defaults to `True`.
        activation: activation function (name or callable). Defaults to `None`.
        use_bias: bool, whether to add a bias. Defaults to `True`.
        **kwargs: the other arguments of `keras.layers.Dense`
            (`kernel_initializer`, `kernel_regularizer`, `name`, `dtype`, ...).

    Call arguments:
        inputs: tensor of shape `(batch, ..., input_dim)`.
        training: bool, whether to drop candidates at random. Defaults to `None`
            (inference).

    Returns:
        A tensor of shape `(batch, ..., units)`.

    Example:

    >>> layer = sk.dropout.TargetedDropoutDense(
    ...     64, rate=0.5, target_rate=0.5, activation="relu", seed=0
    ... )
    >>> y = layer(np.ones((8, 32), "float32"), training=True)
    """

    def __init__(
        self,
        units: int,
        rate: float,
        target_rate: float,
        variant: str = "weight",
        seed: int | None = None,
        prune_at_inference: bool = True,
        activation=None,
        use_bias: bool = True,
        **kwargs,
    ):
        units = check_int("units", units, low=1)
        rate = check_float("rate", rate, low=0.0, high=1.0)
        target_rate = check_float("target_rate", target_rate, low=0.0, high=1.0)
        variant = check_choice("variant", variant, VARIANTS)
        if seed is not None:
            seed = check_int("seed", seed, low=0)
        prune_at_inference = check_bool("prune_at_inference", prune_at_inference)
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.rate = rate
        self.target_rate = target_rate
        self.variant = variant
        self.seed = seed
        self.prune_at_inference = prune_at_inference
        self.seed_generator = keras.random.SeedGenerator(seed)

    def candidates(self):
        """Bool tensor of the kernel's shape: the weights targeted dropout may drop.

        With `variant="weight"`, each output column `j` marks the
        `floor(target_rate * n_in)` weights of smallest `|W[i, j]|` (the authors'
        `targeted_weight_dropout`). With `variant="unit"`, whole columns of the
        `floor(target_rate * units)` units with the smallest `||W[:, j]||_2`
        (`targeted_unit_dropout`). Ties are broken so the counts are exact; the
        authors' code uses a strict threshold, which selects fewer under ties.
        """
        return _candidates(self.kernel, self.target_rate, self.variant)

    def masked_kernel(self, training: bool = False):
        """The kernel this layer multiplies by: dropped (training) or pruned."""
        kernel = ops.cast(self.kernel, self.compute_dtype)
        active = self.rate > 0 if training else self.prune_at_inference
        if not active or self.target_rate == 0:
            return kernel
        drop = self.candidates()
        if training and self.rate < 1:
            # One draw per weight, or per output unit for the unit variant.
            shape = kernel.shape if self.variant == "weight" else (1, self.units)
            noise = keras.random.uniform(shape, seed=self.seed_generator)
            drop = ops.logical_and(drop, ops.less(noise, self.rate))
        return ops.where(drop, ops.zeros_like(kernel), kernel)

    def call(self, inputs, training=None):
        x = ops.matmul(inputs, self.masked_kernel(bool(training)))
        if self.bias is not None:
            x = ops.add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x

    def get_config(self) -> dict:
        base_config = super().get_config()
        config = {
            "rate": self.rate,
            "target_rate": self.target_rate,
            "variant": self.variant,
            "seed": self.seed,
            "prune_at_inference": self.prune_at_inference,
        }
        return {**base_config, **config}
