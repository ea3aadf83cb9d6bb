"""Sparse × dense products: multiply only the active rows of a kernel.

After a top-k selection a sample is `k` (value, index) pairs out of `N` units, so
the next layer's product costs `O(k·M)` instead of `O(N·M)` if it reads only the
`k` selected kernel rows. `sparse_dense_matmul` computes exactly that.

Kernels (chosen per call, same result up to float rounding):

- small problems (`batch·k·M` up to `_GATHER_BUDGET` elements): gather the rows,
  then one batched matmul. Portable and the fastest at small batch.
- larger problems: on TensorFlow outside XLA, `tf.sparse.sparse_dense_matmul`
  (never materialises the `(batch, k, M)` gathered rows); elsewhere a
  `keras.ops.fori_loop` over the `k` slots accumulating `(batch, M)` at a time.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from sparsekit._validation import invalid_argument

# Above this many gathered elements (64 MiB of float32) the gather kernel's
# `(batch, k, M)` intermediate costs more memory traffic than it saves.
_GATHER_BUDGET = 2**24


def sparse_dense_matmul(values: Any, indices: Any, kernel: Any) -> Any:
    """Multiplies a row-sparse matrix, given as (value, index) pairs, by a kernel.

    Computes `out[b, :] = sum_j values[b, j] * kernel[indices[b, j], :]`, which
    equals `dense(values, indices) @ kernel` where `dense` scatters each row's
    values into `N` zeros (repeated indices add up). Only the selected kernel rows
    are read, so the cost is `O(batch·k·M)` instead of `O(batch·N·M)`: it pays
    when `k` is much smaller than `N` and the batch is small (online inference).
    At large batch sizes a dense matmul of the scattered matrix usually wins on
    CPUs, because it streams the kernel once at full FLOP rate.

    Gradients flow to `values` and `kernel` (only the selected rows get one).

    Args:
        values: float tensor `(batch, k)`, the active values, e.g. the first
            output of `keras.ops.top_k`.
        indices: integer tensor `(batch, k)` with entries in `[0, N)`, the units
            that `values` belong to, e.g. the second output of `keras.ops.top_k`.
            The range is checked when the indices are concrete (not traced).
        kernel: float tensor `(N, M)` with the same dtype as `values`.

    Returns:
        A tensor `(batch, M)` with the dtype of `kernel`.

    Example:

    >>> x = keras.random.normal((2, 1024))
    >>> kernel = keras.random.normal((1024, 64))
    >>> values, indices = keras.ops.top_k(x, 16)
    >>> sparse_dense_matmul(values, indices, kernel).shape
    (2, 64)
    """
    values, indices, kernel = _validate(values, indices, kernel)
    return _sparse_dense_matmul(values, indices, kernel)


def _validate(values: Any, indices: Any, kernel: Any) -> tuple[Any, Any, Any]:
    concrete = _concrete_numpy(indices)
    values = ops.convert_to_tensor(values)
    indices = ops.convert_to_tensor(indices)
    kernel = ops.convert_to_tensor(kernel)
    for name, x, rank in (("values", values, 2), ("indices", indices, 2)):
        if len(x.shape) != rank:
            raise invalid_argument(
                f"{name}.shape", "a rank-2 shape (batch, k)", tuple(x.shape)
            )
    if len(kernel.shape) != 2:
        raise invalid_argument(
            "kernel.shape", "a rank-2 shape (N, M)", tuple(kernel.shape)
        )
    if not _compatible(values.shape, indices.shape):
        raise invalid_argument(
            "indices.shape",
            f"the shape of `values` {tuple(values.shape)}",
            tuple(indices.shape),
        )
    if values.shape[1] is None:
        raise invalid_argument("values.shape", "a static k (axis 1)", values.shape)
    v_dtype = keras.backend.standardize_dtype(values.dtype)
    k_dtype = keras.backend.standardize_dtype(kernel.dtype)
    i_dtype = keras.backend.standardize_dtype(indices.dtype)
    if "float" not in k_dtype:
        raise invalid_argument("kernel.dtype", "a floating dtype", k_dtype)
    if v_dtype != k_dtype:
        raise invalid_argument("values.dtype", f"the kernel dtype {k_dtype}", v_dtype)
    if "int" not in i_dtype:
        raise invalid_argument("indices.dtype", "an integer dtype", i_dtype)
    n_rows = kernel.shape[0]
    if concrete is not None and concrete.size and n_rows is not None:
        low, high = int(concrete.min()), int(concrete.max())
        if low < 0 or high >= n_rows:
            bad = low if low < 0 else high
            raise invalid_argument(
                "indices", f"entries in [0, {n_rows - 1}] (rows of `kernel`)", bad
            )
    return values, indices, kernel


def _compatible(a: tuple, b: tuple) -> bool:
    return all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


def _concrete_numpy(x: Any) -> np.ndarray | None:
    """`x` as NumPy if its values are known now (not a traced/symbolic tensor)."""
    if isinstance(x, (np.ndarray, list, tuple)):
        return np.asarray(x)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.is_tensor(x) and not tf.is_symbolic_tensor(x) and hasattr(x, "numpy"):
            return x.numpy()
    elif backend == "jax":
        import jax

        if isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer):
            return np.asarray(x)
    return None


def _sparse_dense_matmul(values: Any, indices: Any, kernel: Any) -> Any:
    """Dispatches to a kernel; inputs are validated tensors."""
    k, m = values.shape[1], kernel.shape[1]
    batch = values.shape[0]
    if keras.backend.backend() == "tensorflow" and not _in_xla_context():
        if batch is None:
            import tensorflow as tf

            # Dynamic batch in a graph: decide at run time.
            small = tf.shape(values)[0] * k * tf.shape(kernel)[1] <= _GATHER_BUDGET
            return tf.cond(
                small,
                lambda: _tf_gather_matmul(values, indices, kernel),
                lambda: _tf_sparse_matmul(values, indices, kernel),
            )
        if batch * k * _size(m) > _GATHER_BUDGET:
            return _tf_sparse_matmul(values, indices, kernel)
        return _tf_gather_matmul(values, indices, kernel)
    if batch is not None and batch * k * _size(m) > _GATHER_BUDGET:
        return _loop_matmul(values, indices, kernel)
    return _gather_matmul(values, indices, kernel)


def _size(dim: int | None) -> int:
    # An unknown output width is treated as large, which picks the lean kernel.
    return dim if dim is not None else _GATHER_BUDGET


def _gather_matmul(values: Any, indices: Any, kernel: Any) -> Any:
    """Gathers the `(batch, k, M)` rows, then one batched vector-matrix product."""
    rows = ops.take(kernel, indices, axis=0)
    return ops.squeeze(ops.matmul(ops.expand_dims(values, 1), rows), 1)


def _loop_matmul(values: Any, indices: Any, kernel: Any) -> Any:
    """Accumulates one `(batch, M)` slot at a time: memory `O(batch·M)`."""
    batch = ops.shape(values)[0]

    def body(j, out):
        column = ops.take(values, j, axis=1)
        rows = ops.take(kernel, ops.take(indices, j, axis=1), axis=0)
        return out + ops.expand_dims(column, 1) * rows

    init = ops.zeros((batch, ops.shape(kernel)[1]), dtype=kernel.dtype)
    return ops.fori_loop(0, values.shape[1], body, init)


def _tf_gather_matmul(values: Any, indices: Any, kernel: Any) -> Any:
    """`_gather_matmul` whose kernel gradient is a dense tensor.

    `tf.gather` alone yields `IndexedSlices`, while `SparseTensorDenseMatMul`
    yields a dense gradient; replicas under `tf.distribute` that trace different
    kernels (static vs unknown batch) must agree on the type to all-reduce it.
    """
    import tensorflow as tf

    n_rows = tf.shape(kernel)[0]

    @tf.custom_gradient
    def product(values, kernel):
        rows = tf.gather(kernel, indices)
        out = tf.squeeze(tf.matmul(values[:, None, :], rows), 1)

        def grad(upstream):
            d_values = tf.squeeze(tf.matmul(rows, upstream[:, :, None]), 2)
            # Bounded by _GATHER_BUDGET like the forward `rows`.
            d_kernel = tf.math.unsorted_segment_sum(
                values[:, :, None] * upstream[:, None, :], indices, n_rows
            )
            return d_values, d_kernel

        return out, grad

    return product(values, kernel)


def _tf_sparse_matmul(values: Any, indices: Any, kernel: Any) -> Any:
    """TensorFlow's `SparseTensorDenseMatMul`: no `(batch, k, M)` intermediate."""
    import tensorflow as tf

    shape = tf.shape(indices, out_type=tf.int64)
    rows = tf.repeat(tf.range(shape[0]), shape[1])
    coords = tf.stack([rows, tf.reshape(tf.cast(indices, tf.int64), [-1])], axis=1)
    dense_shape = tf.stack([shape[0], tf.shape(kernel, out_type=tf.int64)[0]])
    matrix = tf.SparseTensor(coords, tf.reshape(values, [-1]), dense_shape)
    return tf.sparse.sparse_dense_matmul(matrix, kernel)


def _in_xla_context() -> bool:
    """True when tracing for XLA, which has no `SparseTensorDenseMatMul` kernel."""
    import tensorflow as tf

    if tf.executing_eagerly():
        return False
    # No public check exists; `tf.__internal__` is the exported namespace
    # TensorFlow keeps for Keras (no `tensorflow.python` import). It finds the
    # XLA context `tf.function(jit_compile=True)` traces in, through nested
    # graphs. Should it go away, take the XLA-safe path.
    try:
        find = tf.__internal__.get_enclosing_xla_context
    except AttributeError:
        return True
    return find() is not None
