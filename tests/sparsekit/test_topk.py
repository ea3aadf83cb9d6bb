"""sk.layers.TopK: forward values, gradient routing, shapes and argument checks."""

import keras
import numpy as np
import pytest

import sparsekit as sk
from tests.sparsekit.test_ops_topk import reference_mask


def input_gradient(fn, x):
    """d sum(fn(x)) / dx on the active backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(fn(x))
        return tape.gradient(total, x).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda t: fn(t).sum())(x))
    raise AssertionError(f"no gradient helper for backend {backend}")


def test_forward_keeps_the_k_largest_values():
    x = np.random.default_rng(0).normal(size=(6, 10)).astype("float32")
    x[0] = 1.0  # an all-equal row: the first k survive
    out = keras.ops.convert_to_numpy(sk.layers.TopK(k=3)(x))
    np.testing.assert_array_equal(out, x * reference_mask(x, 3))
    np.testing.assert_array_equal(out[0], [1, 1, 1, 0, 0, 0, 0, 0, 0, 0])


def test_gradient_reaches_only_the_kept_units():
    x = np.random.default_rng(1).normal(size=(6, 10)).astype("float32")
    weights = np.random.default_rng(2).uniform(1, 2, size=(10,)).astype("float32")
    layer = sk.layers.TopK(k=4)
    grad = input_gradient(lambda t: layer(t) * weights, x)
    expected = reference_mask(x, 4) * weights  # d(x * m * w)/dx = m * w
    np.testing.assert_allclose(grad, expected, rtol=1e-6)
    assert np.all(grad[reference_mask(x, 4) == 0] == 0)


def test_feature_maps_compete_as_a_whole_by_default():
    x = np.random.default_rng(3).normal(size=(3, 4, 4, 2)).astype("float32")
    out = keras.ops.convert_to_numpy(sk.layers.TopK(k=5)(x))
    np.testing.assert_array_equal(out, x * reference_mask(x, 5))
    assert np.all(np.count_nonzero(out.reshape(3, -1), axis=1) == 5)


def test_axis_minus_one_keeps_k_channels_per_position():
    x = np.random.default_rng(4).normal(size=(3, 4, 4, 2)).astype("float32")
    layer = sk.layers.TopK(k=1, axis=-1)
    out = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_array_equal(out, x * reference_mask(x, 1, axis=-1))
    assert layer.get_config()["axis"] == -1


def test_in_a_model_with_unknown_batch_size_and_fit():
    inputs = keras.Input((12,))
    hidden = sk.layers.TopK(k=3)(keras.layers.Dense(12)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(5).normal(size=(20, 12)).astype("float32")
    model.fit(x, x[:, :1], batch_size=7, epochs=1, verbose=0)
    code = keras.Model(inputs, hidden).predict(x, verbose=0)
    np.testing.assert_array_equal(np.count_nonzero(code, axis=1), np.full(20, 3))


@pytest.mark.parametrize("k", [0, -2, 2.0, None, True])
def test_invalid_k(k):
    with pytest.raises(ValueError, match=rf"`k`.*Received: k={k!r}"):
        sk.layers.TopK(k=k)


def test_k_larger_than_the_units_fails_in_build():
    with pytest.raises(
        ValueError, match=r"`k`: expected an integer in \[1, 16\].*k=17"
    ):
        sk.layers.TopK(k=17).build((None, 16))
    with pytest.raises(
        ValueError, match=r"`k`: expected an integer in \[1, 32\].*k=40"
    ):
        sk.layers.TopK(k=40).build((None, 4, 4, 2))
    with pytest.raises(ValueError, match=r"`k`: expected an integer in \[1, 2\].*k=3"):
        sk.layers.TopK(k=3, axis=-1).build((None, 4, 4, 2))


@pytest.mark.parametrize("axis", [0, 1.5, "last", True])
def test_invalid_axis(axis):
    with pytest.raises(ValueError, match=rf"`axis`.*Received: axis={axis!r}"):
        sk.layers.TopK(k=1, axis=axis)


def test_axis_outside_the_input_rank_fails_in_build():
    with pytest.raises(ValueError, match=r"`axis`.*Received: axis=3"):
        sk.layers.TopK(k=1, axis=3).build((None, 4, 2))
    with pytest.raises(ValueError, match=r"`axis`.*Received: axis=-3"):
        sk.layers.TopK(k=1, axis=-3).build((None, 4, 2))


def test_rank_one_input_is_rejected():
    with pytest.raises(ValueError, match=r"`input_shape`.*input_shape=\(8,\)"):
        sk.layers.TopK(k=1).build((8,))


def test_config_round_trip_keeps_k_and_axis():
    layer = sk.layers.TopK(k=2, axis=-1, name="topk")
    clone = sk.layers.TopK.from_config(layer.get_config())
    assert (clone.k, clone.axis, clone.name) == (2, -1, "topk")
