"""TopKDense: a top-k selection fused with the Dense layer after it."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from sparsekit._validation import check_bool, check_choice, check_int, invalid_argument
from sparsekit.ops.sparse_matmul import sparse_dense_matmul
from sparsekit.ops.topk import topk_mask

_COMPUTE = ("auto", "sparse", "dense")
# "auto" multiplies sparsely while batch * k <= N / 4: past that, a dense matmul
# runs at full FLOP rate and (on 2 CPU cores) overtakes row gathers.
_AUTO_FACTOR = 4


@keras.saving.register_keras_serializable(package="sparsekit")
class TopKDense(keras.layers.Layer):
    """`TopK(k)` followed by `Dense(units)`, reading only the k selected rows.

    Computes `activation(topk(inputs) @ kernel + bias)`, where `topk` keeps the
    `k` largest values of each sample and zeroes the rest (ties go to the lowest
    index), exactly like `sk.layers.TopK(k)` then `keras.layers.Dense(units)` on
    inputs `(batch, input_dim)`, with the same weights (`kernel`, `bias`).

    The product through the `k` kept units can skip the `input_dim - k` zero
    rows: `sk.ops.sparse_dense_matmul` costs `O(k·units)` per sample instead of
    `O(input_dim·units)`. That pays for small batches (online inference) and
    loses to a dense matmul at large ones, so `compute="auto"` multiplies
    sparsely at inference while `batch * k <= input_dim / 4` and densely
    otherwise and during training. Both paths give the same outputs and
    gradients up to float rounding.

    Use `TopKDense.from_layers(topk, dense)` to fuse a trained pair.

    Args:
        units: int, dimensionality of the output space, >= 1.
        k: int, units kept per sample, in `[1, input_dim]`.
        activation: activation function or its name. Defaults to `None` (linear).
        use_bias: bool, whether to add a bias vector. Defaults to `True`.
        kernel_initializer: initializer of the kernel. Defaults to
            `"glorot_uniform"`.
        bias_initializer: initializer of the bias. Defaults to `"zeros"`.
        kernel_regularizer: regulariser of the kernel. Defaults to `None`.
        bias_regularizer: regulariser of the bias. Defaults to `None`.
        activity_regularizer: regulariser of the output. Defaults to `None`.
        kernel_constraint: constraint of the kernel. Defaults to `None`.
        bias_constraint: constraint of the bias. Defaults to `None`.
        compute: str, one of `"auto"`, `"sparse"` (always the row-gather
            product, also in training) or `"dense"` (always mask then matmul).
            Defaults to `"auto"`.
        **kwargs: base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: tensor `(batch, input_dim)`.
        training: bool or `None`, training mode (`"auto"` then multiplies
            densely). Defaults to `None`.

    Returns:
        A tensor of shape `(batch, units)`.

    Example:

    >>> layer = sk.layers.TopKDense(10, k=32)
    >>> y = layer(np.random.rand(1, 1024).astype("float32"))  # 32 rows read
    >>> tuple(y.shape)
    (1, 10)
    """

    def __init__(
        self,
        units: int,
        k: int,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        compute: str = "auto",
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = check_int("units", units, low=1)
        self.k = check_int("k", k, low=1)
        self.activation = keras.activations.get(activation)
        self.use_bias = check_bool("use_bias", use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.compute = check_choice("compute", compute, _COMPUTE)
        self.input_spec = keras.layers.InputSpec(ndim=2)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise invalid_argument("input_shape", "a known last axis", input_shape)
        if self.k > input_dim:
            expected = f"an integer in [1, {input_dim}] (input_dim)"
            raise invalid_argument("k", expected, self.k)
        self.kernel = self.add_weight(
            shape=(input_dim, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
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
        self.input_spec = keras.layers.InputSpec(ndim=2, axes={-1: input_dim})
        self.built = True

    def call(self, inputs, training=None):
        kernel = ops.cast(self.kernel, self.compute_dtype)
        if self.compute == "dense" or (self.compute == "auto" and training):
            outputs = self._dense(inputs, kernel)
        elif self.compute == "sparse":
            outputs = self._sparse(inputs, kernel)
        else:
            outputs = self._auto(inputs, kernel)
        if self.bias is not None:
            outputs = outputs + ops.cast(self.bias, self.compute_dtype)
        return self.activation(outputs)

    def _dense(self, inputs, kernel):
        # The mask carries no gradient; the kept inputs do, as in TopK.
        mask = ops.stop_gradient(topk_mask(inputs, self.k))
        return ops.matmul(inputs * mask, kernel)

    def _sparse(self, inputs, kernel):
        values, indices = ops.top_k(inputs, self.k, sorted=False)
        return sparse_dense_matmul(values, indices, kernel)

    def _auto(self, inputs, kernel):
        input_dim = self.kernel.shape[0]
        limit = input_dim // (_AUTO_FACTOR * self.k)
        batch = inputs.shape[0]
        if batch is not None:  # static batch (JAX, eager): decide now
            if batch <= limit:
                return self._sparse(inputs, kernel)
            return self._dense(inputs, kernel)
        if limit < 1:
            return self._dense(inputs, kernel)
        return ops.cond(
            ops.shape(inputs)[0] <= limit,
            lambda: self._sparse(inputs, kernel),
            lambda: self._dense(inputs, kernel),
        )

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    @classmethod
    def from_layers(
        cls,
        topk: keras.layers.Layer,
        dense: keras.layers.Dense,
        *,
        compute: str = "auto",
        name: str | None = None,
    ) -> TopKDense:
        """Builds the fused layer of a `TopK` → `Dense` pair, sharing its weights.

        Args:
            topk: a `sk.layers.TopK` (or any layer with an integer `k` that keeps
                the `k` largest values along the last axis).
            dense: a `keras.layers.Dense`; if built, its kernel and bias are
                copied into the new layer.
            compute: str, see the class. Defaults to `"auto"`.
            name: str or `None`, name of the new layer. Defaults to `None`
                (`"<dense name>_topk"`).

        Returns:
            A `TopKDense` with the same outputs as `dense(topk(x))`.

        Example:

        >>> fused = sk.layers.TopKDense.from_layers(model.layers[1], model.layers[2])
        """
        k = getattr(topk, "k", None)
        if not isinstance(k, int):
            raise invalid_argument("topk", "a layer with an integer `k`", topk)
        if getattr(topk, "axis", None) not in (None, -1, 1):
            raise invalid_argument("topk.axis", "None or -1", topk.axis)
        if not isinstance(dense, keras.layers.Dense):
            raise invalid_argument("dense", "a keras.layers.Dense", dense)
        config = dense.get_config()
        keys = (
            "units",
            "activation",
            "use_bias",
            "kernel_initializer",
            "bias_initializer",
            "kernel_regularizer",
            "bias_regularizer",
            "activity_regularizer",
            "kernel_constraint",
            "bias_constraint",
            "dtype",
        )
        kwargs: dict[str, Any] = {key: config[key] for key in keys if key in config}
        layer = cls(k=k, compute=compute, name=name or f"{dense.name}_topk", **kwargs)
        if dense.built:
            layer.build((None, dense.kernel.shape[0]))
            layer.set_weights(dense.get_weights())
        return layer

    def get_config(self):
        base_config = super().get_config()
        ser = keras.saving.serialize_keras_object
        config = {
            "units": self.units,
            "k": self.k,
            "activation": ser(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": ser(self.kernel_initializer),
            "bias_initializer": ser(self.bias_initializer),
            "kernel_regularizer": ser(self.kernel_regularizer),
            "bias_regularizer": ser(self.bias_regularizer),
            "activity_regularizer": ser(self.activity_regularizer),
            "kernel_constraint": ser(self.kernel_constraint),
            "bias_constraint": ser(self.bias_constraint),
            "compute": self.compute,
        }
        return {**base_config, **config}
