"""DropConnectDense: a Dense layer whose weights, not units, are dropped."""

from __future__ import annotations

import keras
from keras import ops

from sparsekit._validation import check_float, check_int


@keras.saving.register_keras_serializable(package="sparsekit")
class DropConnectDense(keras.layers.Dense):
    """Densely connected layer with DropConnect on its kernel (Wan et al. 2013).

    In training, each weight of the kernel is zeroed independently with
    probability `rate` and the kept weights are scaled by `1 / (1 - rate)`:

    ```
    M_ij ~ Bernoulli(1 - rate)
    output = activation(inputs @ ((M * kernel) / (1 - rate)) + bias)
    ```

    Dropout zeroes whole units; DropConnect zeroes single connections, so each
    output unit sees a different random subset of its inputs. The bias is never
    dropped. One mask is drawn per call (per training step) and shared by every
    sample of the batch: cheaper than the paper's mask per sample, and the same
    in expectation.

    At inference the layer is the plain deterministic `Dense`,
    `activation(inputs @ kernel + bias)`: thanks to the inverted scaling this is
    the mean-field approximation (the expected pre-activation). It is *not* the
    paper's inference rule, which moment-matches a Gaussian per unit and samples
    it through the activation.

    Args:
        units: int >= 1, dimensionality of the output space.
        rate: float in `[0, 1)`, probability of dropping each weight. `0` gives a
            plain `Dense`.
        seed: int >= 0 or `None`, seed of the layer's `keras.random.SeedGenerator`;
            with a seed the sequence of masks is reproducible. Defaults to `None`.
        activation: activation function (name or callable). Defaults to `None`
            (linear).
        use_bias: bool, whether to add a bias. Defaults to `True`.
        **kwargs: the other arguments of `keras.layers.Dense`
            (`kernel_initializer`, `bias_initializer`, `kernel_regularizer`,
            `bias_regularizer`, `activity_regularizer`, `kernel_constraint`,
            `bias_constraint`, `name`, `dtype`, ...).

    Call arguments:
        inputs: tensor of shape `(batch, ..., input_dim)`.
        training: bool, whether to drop weights. Defaults to `None` (inference).

    Returns:
        A tensor of shape `(batch, ..., units)`.

    Example:

    >>> layer = sk.dropout.DropConnectDense(64, rate=0.5, activation="relu", seed=0)
    >>> y = layer(np.ones((8, 32), "float32"), training=True)
    """

    def __init__(
        self,
        units: int,
        rate: float,
        seed: int | None = None,
        activation=None,
        use_bias: bool = True,
        **kwargs,
    ):
        units = check_int("units", units, low=1)
        rate = check_float("rate", rate, low=0.0, high=1.0, high_inclusive=False)
        if seed is not None:
            seed = check_int("seed", seed, low=0)
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        kernel = ops.cast(self.kernel, self.compute_dtype)
        if training and self.rate > 0:
            kernel = keras.random.dropout(kernel, self.rate, seed=self.seed_generator)
        x = ops.matmul(inputs, kernel)
        if self.bias is not None:
            x = ops.add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x

    def get_config(self) -> dict:
        base_config = super().get_config()
        config = {"rate": self.rate, "seed": self.seed}
        return {**base_config, **config}
