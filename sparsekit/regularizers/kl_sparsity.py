"""KLSparsity: the sparse-autoencoder penalty of Ng's CS294A notes (UFLDL)."""

from __future__ import annotations

import keras
from keras import ops

from sparsekit._validation import check_float

# Keeps log(rho_hat) and log(1 - rho_hat) finite for saturated units.
_EPSILON = 1e-7


@keras.saving.register_keras_serializable(package="sparsekit")
class KLSparsity(keras.regularizers.Regularizer):
    """Activity regulariser pulling each unit's mean activation towards `rho`.

    For a batch of activations `x` of shape `(n, ..., units)`, the mean activation
    of unit `j` is `rho_hat_j = mean(x[..., j])` over every axis but the last (the
    batch, and positions for convolutional feature maps). The penalty is the
    Kullback-Leibler divergence between Bernoulli variables of means `rho` and
    `rho_hat_j`, summed over units:

    ```
    KL(rho || rho_hat_j) = rho * log(rho / rho_hat_j)
                           + (1 - rho) * log((1 - rho) / (1 - rho_hat_j))
    penalty = beta * sum_j KL(rho || rho_hat_j)
    ```

    It is zero when every `rho_hat_j == rho` and its gradient
    `beta * (-rho / rho_hat_j + (1 - rho) / (1 - rho_hat_j))` pushes each mean
    activation towards `rho` (Ng, CS294A lecture notes, "Sparse autoencoder").

    The penalty expects activations in `(0, 1)`, e.g. from a sigmoid. `rho_hat_j` is
    clipped into `[1e-7, 1 - 1e-7]` so the logarithms stay finite; a unit whose
    mean leaves `(0, 1)` (possible with ReLU) gets the penalty of the clip bound and
    no gradient from it.

    The penalty is a statistic of the whole batch, not a sum over samples. Keras
    divides an activity regulariser's value by the batch size before adding it to
    the layer's losses, so calling this object returns `n * penalty` (with `n` the
    size of the first axis) and the loss a layer adds is exactly `penalty`,
    whatever the batch size. Use it as an `activity_regularizer`, not on weights.

    Args:
        rho: float in `(0, 1)`, the target mean activation of every unit.
            Defaults to `0.05`.
        beta: float >= 0, the weight of the penalty. Defaults to `3.0`.

    Returns:
        A scalar float32 tensor, `n * beta * sum_j KL(rho || rho_hat_j)`.

    Example:

    >>> encoder = keras.layers.Dense(
    ...     25,
    ...     activation="sigmoid",
    ...     activity_regularizer=sk.regularizers.KLSparsity(rho=0.05, beta=3.0),
    ... )
    """

    def __init__(self, rho: float = 0.05, beta: float = 3.0):
        self.rho = check_float(
            "rho", rho, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
        )
        self.beta = check_float("beta", beta, low=0.0)

    def __call__(self, x):
        # Mixed precision hands in bfloat16; logs and means need float32.
        x = ops.cast(x, "float32")
        axes = tuple(range(max(len(x.shape) - 1, 1)))
        rho_hat = ops.clip(ops.mean(x, axis=axes), _EPSILON, 1.0 - _EPSILON)
        rho = self.rho
        kl = rho * ops.log(rho / rho_hat) + (1.0 - rho) * ops.log(
            (1.0 - rho) / (1.0 - rho_hat)
        )
        n = ops.cast(ops.shape(x)[0], "float32")
        return n * self.beta * ops.sum(kl)

    def get_config(self) -> dict:
        # The base Regularizer.get_config raises, so there is no base config to merge.
        return {"rho": self.rho, "beta": self.beta}
