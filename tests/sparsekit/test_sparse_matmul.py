"""sk.ops.sparse_dense_matmul and sk.layers.TopKDense against the dense product."""

import keras
import numpy as np
import pytest

import sparsekit as sk
from sparsekit.layers.topk_dense import TopKDense
from sparsekit.ops import sparse_matmul

BACKEND = keras.backend.backend()


def _problem(batch, k, n, m, seed=0, unique=True):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(batch, k)).astype("float32")
    if unique:
        indices = np.stack([rng.permutation(n)[:k] for _ in range(batch)])
    else:
        indices = rng.integers(0, n, size=(batch, k))
    kernel = rng.normal(size=(n, m)).astype("float32")
    return values, indices.astype("int32"), kernel


def _scatter(values, indices, n):
    dense = np.zeros((values.shape[0], n), "float64")
    for b in range(values.shape[0]):
        np.add.at(dense[b], indices[b], values[b])  # repeated indices add up
    return dense


def _reference(values, indices, kernel):
    return _scatter(values, indices, kernel.shape[0]) @ kernel.astype("float64")


@pytest.fixture(params=["gather", "lean"])
def kernel_choice(request, monkeypatch):
    """Runs a test on the gather kernel and on the large-problem kernel."""
    if request.param == "lean":
        monkeypatch.setattr(sparse_matmul, "_GATHER_BUDGET", 0)
    return request.param


@pytest.mark.parametrize(
    "batch,k,n,m",
    [(1, 5, 40, 7), (1, 40, 40, 3), (8, 8, 8, 16), (33, 3, 100, 1), (64, 16, 257, 31)],
)
def test_matches_dense_product(batch, k, n, m, kernel_choice):
    values, indices, kernel = _problem(batch, k, n, m, seed=batch + k)
    expected = _reference(values, indices, kernel)
    for _ in range(2):  # repeated calls give the same result
        out = sk.ops.sparse_dense_matmul(values, indices, kernel)
        assert tuple(out.shape) == (batch, m)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(out), expected, rtol=1e-5, atol=1e-5
        )


def test_repeated_indices_add_up(kernel_choice):
    values, indices, kernel = _problem(6, 20, 5, 4, unique=False)
    out = sk.ops.sparse_dense_matmul(values, indices, kernel)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(out), _reference(values, indices, kernel), atol=1e-5
    )


def test_works_on_top_k_outputs_int64_and_tensors():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 50)).astype("float32")
    kernel = keras.ops.convert_to_tensor(rng.normal(size=(50, 6)).astype("float32"))
    values, indices = keras.ops.top_k(x, 10)
    out = sk.ops.sparse_dense_matmul(values, keras.ops.cast(indices, "int64"), kernel)
    masked = np.where(x >= np.sort(x, axis=1)[:, -10:-9], x, 0.0)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(out),
        masked @ keras.ops.convert_to_numpy(kernel),
        rtol=1e-5,
        atol=1e-5,
    )


def test_inside_compiled_function_with_unknown_shapes(kernel_choice):
    values, indices, kernel = _problem(5, 7, 30, 9)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        # Unknown batch and output width; k must stay static.
        fn = tf.function(
            sk.ops.sparse_dense_matmul,
            input_signature=[
                tf.TensorSpec([None, 7], tf.float32),
                tf.TensorSpec([None, 7], tf.int32),
                tf.TensorSpec([30, None], tf.float32),
            ],
        )
    else:
        import jax

        fn = jax.jit(sk.ops.sparse_dense_matmul)
    for batch in (5, 1):
        out = fn(values[:batch], indices[:batch], kernel)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(out),
            _reference(values[:batch], indices[:batch], kernel),
            rtol=1e-5,
            atol=1e-5,
        )


def test_under_xla_takes_a_kernel_xla_compiles(kernel_choice):
    # TensorFlow's large-problem kernel (SparseTensorDenseMatMul) has no XLA
    # kernel: under jit_compile the op must see the XLA context and avoid it.
    values, indices, kernel = _problem(6, 5, 40, 9)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        seen = []

        def probe(v, i, w):
            seen.append(sparse_matmul._in_xla_context())
            return sk.ops.sparse_dense_matmul(v, i, w)

        out = tf.function(probe, jit_compile=True)(values, indices, kernel)
        tf.function(probe)(values, indices, kernel)
        assert seen == [True, False]
        assert not sparse_matmul._in_xla_context()  # eager
    else:
        import jax

        out = jax.jit(sk.ops.sparse_dense_matmul)(values, indices, kernel)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(out),
        _reference(values, indices, kernel),
        rtol=1e-5,
        atol=1e-5,
    )


def _gradients(values, indices, kernel, upstream):
    """d(sum(upstream * out)) / d(values, kernel) through the op."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        v, w = tf.constant(values), tf.constant(kernel)
        with tf.GradientTape() as tape:
            tape.watch([v, w])
            loss = tf.reduce_sum(upstream * sk.ops.sparse_dense_matmul(v, indices, w))
        grads = tape.gradient(loss, [v, w])
        return [tf.convert_to_tensor(g).numpy() for g in grads]
    import jax

    def loss(v, w):
        return (upstream * sk.ops.sparse_dense_matmul(v, indices, w)).sum()

    return [np.asarray(g) for g in jax.grad(loss, argnums=(0, 1))(values, kernel)]


@pytest.mark.parametrize("unique", [True, False])
def test_gradients_match_dense_path(unique, kernel_choice):
    values, indices, kernel = _problem(6, 9, 30, 11, seed=4, unique=unique)
    upstream = np.random.default_rng(5).normal(size=(6, 11)).astype("float32")
    grad_values, grad_kernel = _gradients(values, indices, kernel, upstream)
    # Dense path: out = S @ K with S the scattered values.
    dense_grad_s = upstream @ kernel.T
    expected_values = np.take_along_axis(dense_grad_s, indices, axis=1)
    expected_kernel = _scatter(values, indices, 30).T @ upstream
    np.testing.assert_allclose(grad_values, expected_values, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad_kernel, expected_kernel, rtol=1e-5, atol=1e-5)


def test_bfloat16():
    values, indices, kernel = _problem(3, 4, 20, 8)
    out = sk.ops.sparse_dense_matmul(
        keras.ops.cast(values, "bfloat16"), indices, keras.ops.cast(kernel, "bfloat16")
    )
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras.ops.cast(out, "float32")),
        _reference(values, indices, kernel),
        rtol=5e-2,
        atol=0.15,
    )


@pytest.mark.parametrize(
    "args,match",
    [
        (("values3d", None, None), r"`values.shape`: expected a rank-2 shape"),
        ((None, "indices1d", None), r"`indices.shape`: expected a rank-2 shape"),
        ((None, None, "kernel1d"), r"`kernel.shape`: expected a rank-2 shape"),
        ((None, "indices_short", None), r"`indices.shape`: expected the shape of"),
        (("values_f16", None, None), r"`values.dtype`: expected the kernel dtype"),
        ((None, "indices_float", None), r"`indices.dtype`: expected an integer"),
        (("values_int", None, "kernel_int"), r"`kernel.dtype`: expected a floating"),
        ((None, "indices_high", None), r"expected entries in \[0, 19\].*indices=20"),
        ((None, "indices_negative", None), r"expected entries in \[0, 19\].*=-1"),
    ],
)
def test_invalid_arguments(args, match):
    values, indices, kernel = _problem(3, 4, 20, 5)
    bad = {
        "values3d": values[None],
        "indices1d": indices[0],
        "kernel1d": kernel[0],
        "indices_short": indices[:, :3],
        "values_f16": values.astype("float16"),
        "indices_float": indices.astype("float32"),
        "values_int": indices,
        "kernel_int": indices.T,
        "indices_high": np.where(indices == indices[0, 0], 20, indices),
        "indices_negative": np.where(indices == indices[0, 0], -1, indices),
    }
    chosen = [
        bad[a] if a else d for a, d in zip(args, (values, indices, kernel), strict=True)
    ]
    with pytest.raises(ValueError, match=match):
        sk.ops.sparse_dense_matmul(*chosen)


# --- TopKDense -------------------------------------------------------------------


def _topk_reference(x, k, kernel, bias):
    """TopK (ties to the lowest index) then Dense, in NumPy."""
    order = np.argsort(-x, axis=1, kind="stable")[:, :k]
    masked = np.zeros_like(x)
    np.put_along_axis(masked, order, np.take_along_axis(x, order, 1), 1)
    return masked @ kernel + bias


@pytest.mark.parametrize("compute", ["auto", "sparse", "dense"])
@pytest.mark.parametrize("batch", [1, 2, 40])
def test_topk_dense_matches_topk_then_dense(compute, batch):
    layer = TopKDense(6, k=3, compute=compute, bias_initializer="random_normal")
    x = np.random.default_rng(batch).normal(size=(batch, 64)).astype("float32")
    x[:, 10] = x[:, 11] = x.max() + 1.0  # a tie among the winners
    for training in (False, True):
        out = keras.ops.convert_to_numpy(layer(x, training=training))
        kernel, bias = (keras.ops.convert_to_numpy(w) for w in layer.weights)
        expected = _topk_reference(x, 3, kernel, bias)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_topk_dense_equals_sk_topk_and_keras_dense_pair():
    inputs = keras.Input((32,))
    topk = sk.layers.TopK(k=5)
    dense = keras.layers.Dense(7, activation="relu", bias_initializer="ones")
    model = keras.Model(inputs, dense(topk(inputs)))
    fused = TopKDense.from_layers(topk, dense)
    assert fused.k == 5 and fused.units == 7 and fused.name == f"{dense.name}_topk"
    x = np.random.default_rng(0).normal(size=(9, 32)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(fused(x)),
        model.predict(x, verbose=0),
        rtol=1e-5,
        atol=1e-5,
    )
    fused_model = keras.Sequential([keras.Input((32,)), fused])
    np.testing.assert_allclose(
        fused_model.predict(x[:1], verbose=0),
        model.predict(x[:1], verbose=0),
        atol=1e-5,
    )


def test_topk_dense_auto_in_compiled_predict_with_any_batch(tmp_path):
    model = keras.Sequential([keras.Input((256,)), TopKDense(4, k=8)])
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in model.weights)
    x = np.random.default_rng(1).normal(size=(37, 256)).astype("float32")
    for batch_size in (1, 2, 16):  # 1 and 2 take the sparse path (256 / (4*8) = 8)
        out = model.predict(x, batch_size=batch_size, verbose=0)
        np.testing.assert_allclose(
            out, _topk_reference(x, 8, kernel, bias), rtol=1e-5, atol=1e-5
        )
    path = tmp_path / "fused.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.layers[0].get_config() == model.layers[0].get_config()
    np.testing.assert_allclose(
        loaded.predict(x[:1], verbose=0), model.predict(x[:1], verbose=0), atol=1e-6
    )


def test_topk_dense_trains_through_sparse_path():
    layer = TopKDense(3, k=2, compute="sparse")
    model = keras.Sequential([keras.Input((50,)), layer])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 50)).astype("float32")
    y = rng.normal(size=(4, 3)).astype("float32")
    before = keras.ops.convert_to_numpy(layer.kernel).copy()
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)  # one SGD step
    changed = np.any(before != keras.ops.convert_to_numpy(layer.kernel), axis=1)
    selected = np.zeros(50, bool)
    selected[np.argsort(-x, axis=1)[:, :2].ravel()] = True
    np.testing.assert_array_equal(changed, selected)  # only the k rows learn


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"units": 0, "k": 2}, r"`units`: expected an integer >= 1"),
        ({"units": 3, "k": 0}, r"`k`: expected an integer"),
        ({"units": 3, "k": 2, "compute": "fast"}, r"`compute`: expected one of"),
        ({"units": 3, "k": 2, "use_bias": 1}, r"`use_bias`: expected a bool"),
    ],
)
def test_topk_dense_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TopKDense(**kwargs)


def test_topk_dense_k_larger_than_input():
    with pytest.raises(ValueError, match=r"`k`: expected an integer in \[1, 4\]"):
        TopKDense(3, k=5)(np.ones((2, 4), "float32"))


def test_from_layers_rejects_non_dense():
    with pytest.raises(ValueError, match="`dense`: expected a keras.layers.Dense"):
        TopKDense.from_layers(sk.layers.TopK(k=2), keras.layers.ReLU())
