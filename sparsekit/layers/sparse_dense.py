"""SparseDense: a Dense layer whose kernel has a fixed random sparsity pattern."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from sparsekit._validation import check_bool, check_float, check_int


class _KernelMask(keras.constraints.Constraint):
    """Projects the kernel back onto the mask after each optimizer update.

    Wraps the user's `kernel_constraint` (applied first). Holds the mask as a NumPy
    array, not the mask variable: under JAX the optimizer step cannot read
    non-trainable variables. Internal: rebuilt in `build`, never in a config.
    """

    def __init__(self, mask, inner=None):
        self.mask = mask
        self.inner = inner

    def __call__(self, w):
        if self.inner is not None:
            w = self.inner(w)
        return w * ops.cast(self.mask, w.dtype)


def random_mask(shape: tuple[int, int], density: float, seed: int) -> np.ndarray:
    """A float32 0/1 array with exactly `max(1, round(density * size))` ones."""
    size = shape[0] * shape[1]
    n_nonzero = max(1, round(density * size))
    flat = np.zeros(size, "float32")
    flat[np.random.default_rng(seed).permutation(size)[:n_nonzero]] = 1.0
    return flat.reshape(shape)


@keras.saving.register_keras_serializable(package="sparsekit")
class SparseDense(keras.layers.Layer):
    """A densely-connected layer with a fixed random connectivity mask.

    Computes `activation(inputs @ (kernel * mask) + bias)`, where `mask` is a 0/1
    matrix of shape `(input_dim, units)` with exactly
    `max(1, round(density * input_dim * units))` ones at uniformly random
    positions (a random subset, not per-element Bernoulli draws, so the
    density is exact). The mask is drawn in `build` from `seed` with NumPy, so the
    same seed gives the same mask on every backend, and stored as the
    non-trainable weight `kernel_mask`, so it is saved in `.keras` files.

    Masked kernel entries stay exactly zero: the kernel starts masked, the mask is
    applied in `call` (so no gradient reaches them) and a constraint multiplies
    the kernel variable by the mask after every optimizer step (so weight decay
    or manual updates cannot revive them). The static sparse topology of Ahmad &
    Scheinkman (2019) uses 30 % nonzero weights.

    Args:
        units: int, dimensionality of the output space, >= 1.
        density: float in `(0, 1]`, the fraction of kernel entries that are
            connections.
        seed: int >= 0 or `None`, seed of the mask. `None` draws one from NumPy's
            global generator (set by `keras.utils.set_random_seed`) when the
            layer is created and records it in the config. Defaults to `None`.
        activation: activation function or its name. Defaults to `None` (linear).
        use_bias: bool, whether to add a bias vector. Defaults to `True`.
        kernel_initializer: initializer of the kernel (then masked). Defaults to
            `"glorot_uniform"`.
        bias_initializer: initializer of the bias. Defaults to `"zeros"`.
        kernel_regularizer: regulariser of the kernel. Defaults to `None`.
        bias_regularizer: regulariser of the bias. Defaults to `None`.
        activity_regularizer: regulariser of the output. Defaults to `None`.
        kernel_constraint: constraint of the kernel, applied before the mask.
            Defaults to `None`.
        bias_constraint: constraint of the bias. Defaults to `None`.
        **kwargs: base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: tensor of rank >= 2, `(..., input_dim)`.

    Returns:
        A tensor of shape `(..., units)`.

    Example:

    >>> layer = sk.layers.SparseDense(8, density=0.25, seed=0)
    >>> y = layer(np.ones((2, 4), "float32"))
    >>> int(keras.ops.sum(layer.kernel_mask))  # round(0.25 * 4 * 8)
    8
    """

    def __init__(
        self,
        units: int,
        density: float,
        seed: int | None = None,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = check_int("units", units, low=1)
        self.density = check_float(
            "density", density, low=0.0, high=1.0, low_inclusive=False
        )
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        self.seed = check_int("seed", seed, low=0)
        self.activation = keras.activations.get(activation)
        self.use_bias = check_bool("use_bias", use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.input_spec = keras.layers.InputSpec(min_ndim=2)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        mask = random_mask((input_dim, self.units), self.density, self.seed)
        self.kernel_mask = self.add_weight(
            shape=mask.shape,
            initializer=lambda shape, dtype=None: ops.convert_to_tensor(mask, dtype),
            trainable=False,
            name="kernel_mask",
        )

        def masked_kernel_init(shape, dtype=None):
            return self.kernel_initializer(shape, dtype) * ops.convert_to_tensor(
                mask, dtype
            )

        self._mask_constraint = _KernelMask(mask, self.kernel_constraint)
        self.kernel = self.add_weight(
            shape=mask.shape,
            initializer=masked_kernel_init,
            regularizer=self.kernel_regularizer,
            constraint=self._mask_constraint,
            name="kernel",
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )
        else:
            self.bias = None
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def load_own_variables(self, store):
        super().load_own_variables(store)
        # Keep the projection in step with a mask restored from a file.
        self._mask_constraint.mask = ops.convert_to_numpy(self.kernel_mask)

    def call(self, inputs):
        kernel = self.kernel * ops.cast(self.kernel_mask, self.compute_dtype)
        outputs = ops.matmul(inputs, kernel)
        if self.bias is not None:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        base_config = super().get_config()
        ser = keras.saving.serialize_keras_object
        config = {
            "units": self.units,
            "density": self.density,
            "seed": self.seed,
            "activation": ser(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": ser(self.kernel_initializer),
            "bias_initializer": ser(self.bias_initializer),
            "kernel_regularizer": ser(self.kernel_regularizer),
            "bias_regularizer": ser(self.bias_regularizer),
            "activity_regularizer": ser(self.activity_regularizer),
            "kernel_constraint": ser(self.kernel_constraint),
            "bias_constraint": ser(self.bias_constraint),
        }
        return {**base_config, **config}
