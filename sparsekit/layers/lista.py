"""LISTA: learned ISTA, an unrolled sparse-coding encoder (Gregor & LeCun 2010)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from sparsekit._validation import check_bool, check_float, check_int, invalid_argument
from sparsekit.coding._checks import array_error, check_matrix
from sparsekit.coding.proximal import ista_operators


@keras.saving.register_keras_serializable(package="sparsekit")
class LISTA(keras.layers.Layer):
    """Learned ISTA: `n_layers` unrolled ISTA steps with trainable matrices.

    Each layer computes `z_{t+1} = soft_threshold(x W_e + z_t S, θ)` from
    `z_0 = 0`, so the first layer is `soft_threshold(x W_e, θ)`. With a
    dictionary D `(units, n_features)` and `L = λ_max(D Dᵀ)`, the values
    `W_e = Dᵀ / L`, `S = I - D Dᵀ / L` and `θ = lam / L` make the layer exactly
    `n_layers` ISTA iterations for `0.5*||x - z D||² + lam*||z||₁`
    (`sk.coding.ista(x, D, lam, n_iter=n_layers)`); training then adapts
    `W_e` `(n_features, units)`, `S` `(units, units)` and the per-unit
    thresholds `θ` `(units,)`, kept >= 0. As in Gregor & LeCun (2010), `S` and
    `θ` are shared by all layers by default (a recurrent encoder);
    `shared_weights=False` gives each layer its own (`S`: `(n_layers - 1,
    units, units)`, `θ`: `(n_layers, units)`).

    Without a dictionary (the constructor) the weights start from a random
    dictionary of unit-norm Gaussian atoms drawn with `seed`; use
    `LISTA.from_dictionary(D, n_layers, lam)` to start from a given or learned
    one.

    Args:
        units: int >= 1, number of atoms (code size).
        n_layers: int >= 1, number of unrolled iterations.
        lam: float >= 0, the L1 weight that sets the initial thresholds.
        shared_weights: bool, share `S` and `θ` across layers.
            Defaults to `True`.
        positive: bool, use the non-negative threshold `relu(v - θ)`.
            Defaults to `False`.
        seed: int >= 0 or `None`, seed of the random initial dictionary.
            `None` draws one from NumPy's global generator (which
            `keras.utils.set_random_seed` seeds). Defaults to `None`.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor `(batch, ..., n_features)`.

    Returns:
        Codes, a tensor `(batch, ..., units)`.

    Example:

    >>> import numpy as np, keras, sparsekit as sk
    >>> D = np.random.default_rng(0).normal(size=(32, 16))
    >>> encoder = sk.layers.LISTA.from_dictionary(D, n_layers=3, lam=0.1)
    >>> codes = encoder(np.ones((4, 16), "float32"))  # (4, 32)
    """

    def __init__(
        self,
        units: int,
        n_layers: int,
        lam: float,
        *,
        shared_weights: bool = True,
        positive: bool = False,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_int("units", units, low=1)
        self.n_layers = check_int("n_layers", n_layers, low=1)
        self.lam = check_float("lam", lam, low=0.0)
        self.shared_weights = check_bool("shared_weights", shared_weights)
        self.positive = check_bool("positive", positive)
        self.seed = None if seed is None else check_int("seed", seed, low=0)
        self._dictionary = None  # set by from_dictionary, consumed by build

    @classmethod
    def from_dictionary(
        cls, dictionary: Any, n_layers: int, lam: float, **kwargs
    ) -> LISTA:
        """A LISTA layer equal, before training, to `n_layers` ISTA steps on D.

        Args:
            dictionary: array `(n_atoms, n_features)`, one atom per row.
            n_layers: int >= 1, number of unrolled iterations.
            lam: float >= 0, the L1 weight.
            **kwargs: other `LISTA` arguments (`shared_weights`, `positive`, ...).

        Returns:
            An unbuilt `LISTA` with `units = n_atoms`; it builds on inputs with
            `n_features` features.
        """
        dictionary = check_matrix("dictionary", dictionary)
        layer = cls(ops.shape(dictionary)[0], n_layers, lam, **kwargs)
        layer._dictionary = np.asarray(ops.convert_to_numpy(dictionary))
        return layer

    def build(self, input_shape):
        n_features = input_shape[-1]
        if n_features is None:
            raise invalid_argument("input_shape", "a known last axis", input_shape)
        dictionary = self._dictionary
        if dictionary is None:
            seed = np.random.randint(2**31) if self.seed is None else self.seed
            rng = np.random.default_rng(seed)
            dictionary = rng.standard_normal((self.units, n_features))
            dictionary /= np.linalg.norm(dictionary, axis=1, keepdims=True)
        elif dictionary.shape[1] != n_features:
            raise array_error(
                "dictionary",
                f"{n_features} features to match the inputs",
                f"dictionary.shape={dictionary.shape}",
            )
        step, encoder, inhibition = ista_operators(
            ops.convert_to_tensor(dictionary, dtype="float32")
        )
        encoder = ops.convert_to_numpy(encoder)
        inhibition = ops.convert_to_numpy(inhibition)
        theta = np.full((self.units,), self.lam * float(step), dtype="float32")
        n_inhibition = 1 if self.shared_weights else self.n_layers - 1
        n_theta = 1 if self.shared_weights else self.n_layers

        self.encoder = self.add_weight(
            shape=encoder.shape, initializer=_constant(encoder), name="encoder"
        )
        self.inhibition = None
        if self.n_layers > 1:  # the first step starts from z = 0 and has no S
            values = np.stack([inhibition] * n_inhibition)
            self.inhibition = self.add_weight(
                shape=values.shape, initializer=_constant(values), name="inhibition"
            )
        values = np.stack([theta] * n_theta)
        self.theta = self.add_weight(
            shape=values.shape,
            initializer=_constant(values),
            constraint=keras.constraints.NonNeg(),
            name="theta",
        )
        self._dictionary = None

    def call(self, inputs):
        dtype = self.compute_dtype
        drive = ops.matmul(inputs, ops.cast(self.encoder, dtype))
        theta = ops.cast(self.theta, dtype)
        z = self._shrink(drive, theta[0])
        if self.n_layers > 1:
            inhibition = ops.cast(self.inhibition, dtype)
        for t in range(1, self.n_layers):
            s, th = (0, 0) if self.shared_weights else (t - 1, t)
            z = self._shrink(drive + ops.matmul(z, inhibition[s]), theta[th])
        return z

    def _shrink(self, v, theta):
        if self.positive:
            return ops.relu(v - theta)
        return ops.sign(v) * ops.relu(ops.abs(v) - theta)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        base_config = super().get_config()
        config = {
            "units": self.units,
            "n_layers": self.n_layers,
            "lam": self.lam,
            "shared_weights": self.shared_weights,
            "positive": self.positive,
            "seed": self.seed,
        }
        return {**base_config, **config}


def _constant(values: np.ndarray):
    """An initializer returning `values` (weights restored by load need no config)."""

    def initializer(shape, dtype=None):
        return ops.convert_to_tensor(np.reshape(values, shape), dtype=dtype)

    return initializer
