"""DropConnectDense and TargetedDropout against numpy references."""

import re

import keras
import numpy as np
import pytest

import sparsekit as sk


def _np(tensor):
    return np.asarray(keras.ops.convert_to_numpy(tensor))


def _invalid(name, received):
    return re.escape(f"`{name}`") + ".*" + re.escape(f"Received: {name}={received!r}")


# DropConnectDense -----------------------------------------------------------------


def _dropconnect(units=6, rate=0.5, in_dim=8, **kwargs):
    layer = sk.dropout.DropConnectDense(units, rate=rate, **kwargs)
    layer.build((None, in_dim))
    rng = np.random.default_rng(0)
    layer.kernel.assign(rng.normal(size=(in_dim, units)).astype("float32"))
    if layer.bias is not None:
        layer.bias.assign(rng.normal(size=(units,)).astype("float32"))
    return layer


def test_dropconnect_inference_is_the_deterministic_dense():
    layer = _dropconnect(rate=0.5)
    x = np.random.default_rng(1).normal(size=(5, 8)).astype("float32")
    w, b = _np(layer.kernel), _np(layer.bias)
    for training in (None, False):
        np.testing.assert_allclose(
            _np(layer(x, training=training)), x @ w + b, rtol=1e-5, atol=1e-6
        )
    np.testing.assert_array_equal(_np(layer(x)), _np(layer(x)))


def test_dropconnect_applies_activation_and_skips_bias():
    layer = _dropconnect(rate=0.2, activation="relu", use_bias=False)
    assert layer.bias is None
    x = np.random.default_rng(2).normal(size=(4, 8)).astype("float32")
    np.testing.assert_allclose(
        _np(layer(x)), np.maximum(x @ _np(layer.kernel), 0), rtol=1e-5, atol=1e-6
    )


def test_dropconnect_training_drops_about_rate_of_the_weights():
    rate, n = 0.3, 48
    layer = _dropconnect(units=n, rate=rate, in_dim=n, use_bias=False, seed=3)
    w = _np(layer.kernel)
    # Identity inputs read the masked kernel back row by row; a second copy in the
    # same batch checks that one mask serves the whole step.
    eye = np.eye(n, dtype="float32")
    out = _np(layer(np.concatenate([eye, eye]), training=True))
    masked, again = out[:n], out[n:]
    np.testing.assert_array_equal(masked, again)
    dropped = masked == 0
    assert abs(dropped.mean() - rate) < 0.03
    # Kept weights are scaled by 1 / (1 - rate).
    np.testing.assert_allclose(masked[~dropped], w[~dropped] / (1 - rate), rtol=1e-5)


def test_dropconnect_masks_change_between_steps_and_average_to_dense():
    layer = _dropconnect(units=3, rate=0.5, in_dim=4, seed=4)
    x = np.random.default_rng(5).normal(size=(2, 4)).astype("float32")
    draws = np.stack([_np(layer(x, training=True)) for _ in range(300)])
    assert not np.array_equal(draws[0], draws[1])
    w = _np(layer.kernel)
    expected = x @ w + _np(layer.bias)
    # Inverted scaling: the mean over masks is the inference output, within 5
    # standard errors (each weight term has variance (x w)^2 rate / (1 - rate)).
    variance = (x**2) @ (w**2) * 0.5 / (1 - 0.5)
    tolerance = 5 * np.sqrt(variance / len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - expected) < tolerance)


def test_dropconnect_seed_makes_masks_reproducible():
    x = np.ones((3, 8), "float32")
    first = _dropconnect(rate=0.5, seed=7)
    second = _dropconnect(rate=0.5, seed=7)
    for _ in range(2):
        np.testing.assert_array_equal(
            _np(first(x, training=True)), _np(second(x, training=True))
        )


def test_dropconnect_rate_zero_equals_dense():
    layer = _dropconnect(rate=0.0, activation="tanh")
    dense = keras.layers.Dense(6, activation="tanh")
    dense.build((None, 8))
    dense.set_weights(layer.get_weights())
    x = np.random.default_rng(8).normal(size=(4, 8)).astype("float32")
    np.testing.assert_allclose(
        _np(layer(x, training=True)), _np(dense(x)), rtol=1e-6, atol=1e-6
    )


def test_dropconnect_dropped_weights_get_no_gradient_in_the_step():
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        layer = _dropconnect(units=16, rate=0.5, in_dim=16, use_bias=False, seed=9)
        eye = np.eye(16, dtype="float32")
        with tf.GradientTape() as tape:
            out = layer(eye, training=True)
            loss = tf.reduce_sum(out)
        grad = tape.gradient(loss, layer.kernel.value).numpy()
        # out == masked kernel / (1 - rate): dropped entries have gradient 0.
        np.testing.assert_array_equal(grad == 0, out.numpy() == 0)
    else:
        import jax

        layer = _dropconnect(units=16, rate=0.5, in_dim=16, use_bias=False, seed=9)
        state = [v.value for v in layer.non_trainable_variables]
        eye = jax.numpy.eye(16)

        def loss(kernel):
            out, _ = layer.stateless_call([kernel], state, eye, training=True)
            return out.sum(), out

        (_, out), grad = jax.value_and_grad(loss, has_aux=True)(layer.kernel.value)
        np.testing.assert_array_equal(np.asarray(grad) == 0, np.asarray(out) == 0)


def test_dropconnect_config_round_trip():
    layer = sk.dropout.DropConnectDense(
        5, rate=0.25, seed=3, activation="relu", kernel_initializer="he_normal"
    )
    config = layer.get_config()
    assert config["units"] == 5 and config["rate"] == 0.25 and config["seed"] == 3
    clone = sk.dropout.DropConnectDense.from_config(config)
    assert clone.get_config() == config


def test_dropconnect_rejects_bad_arguments():
    for units in [0, -3, 2.5, True, "4"]:
        with pytest.raises(ValueError, match=_invalid("units", units)):
            sk.dropout.DropConnectDense(units, rate=0.1)
    for rate in [-0.1, 1.0, 1.5, float("nan"), "0.5"]:
        with pytest.raises(ValueError, match=_invalid("rate", rate)):
            sk.dropout.DropConnectDense(4, rate=rate)
    for seed in [-1, 1.5, "0"]:
        with pytest.raises(ValueError, match=_invalid("seed", seed)):
            sk.dropout.DropConnectDense(4, rate=0.1, seed=seed)


# TargetedDropout ------------------------------------------------------------------


def candidate_reference(x, target_rate):
    """Per sample, the floor(target_rate * n) units of smallest |x| (distinct)."""
    flat = np.abs(x.reshape(len(x), -1))
    k = int(np.floor(target_rate * flat.shape[1] + 1e-9))
    ranks = np.argsort(np.argsort(flat, axis=1, kind="stable"), axis=1)
    return (ranks < k).reshape(x.shape)


def _distinct_magnitudes(shape, seed=0):
    """Normal values whose magnitudes are all distinct within a sample."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape[1:]))
    rows = [rng.permutation(n) + 1 for _ in range(shape[0])]
    signs = rng.choice([-1.0, 1.0], size=(shape[0], n))
    return (np.stack(rows) * signs * 0.1).reshape(shape).astype("float32")


def test_targeted_dropout_inference_is_identity():
    x = _distinct_magnitudes((4, 10))
    layer = sk.dropout.TargetedDropout(rate=0.9, target_rate=0.9, seed=0)
    for training in (None, False):
        np.testing.assert_array_equal(_np(layer(x, training=training)), x)


def test_targeted_dropout_drops_only_candidates():
    for shape in [(64, 10), (16, 3, 2, 4)]:
        x = _distinct_magnitudes(shape, seed=1)
        candidates = candidate_reference(x, 0.5)
        layer = sk.dropout.TargetedDropout(rate=0.5, target_rate=0.5, seed=2)
        out = _np(layer(x, training=True))
        dropped = out == 0
        np.testing.assert_array_equal(out[~dropped], x[~dropped])
        # Units outside the candidate set are never dropped.
        assert not np.any(dropped & ~candidates)
        assert 0.35 < dropped[candidates].mean() < 0.65


def test_targeted_dropout_drops_about_rate_of_the_candidates():
    x = _distinct_magnitudes((256, 16), seed=3)
    candidates = candidate_reference(x, 0.25)
    out = _np(sk.dropout.TargetedDropout(rate=0.3, target_rate=0.25)(x, training=True))
    assert abs((out == 0)[candidates].mean() - 0.3) < 0.05


def test_targeted_dropout_rate_one_drops_exactly_the_candidates():
    x = _distinct_magnitudes((8, 10), seed=4)
    for target_rate, k in [(0.7, 7), (0.29, 2), (1.0, 10)]:
        layer = sk.dropout.TargetedDropout(rate=1.0, target_rate=target_rate)
        out = _np(layer(x, training=True))
        expected = np.where(candidate_reference(x, target_rate), 0, x)
        np.testing.assert_array_equal(out, expected)
        assert np.all((out == 0).sum(axis=1) == k)


def test_targeted_dropout_ties_give_exactly_k_candidates():
    x = np.ones((5, 8), "float32")
    layer = sk.dropout.TargetedDropout(rate=1.0, target_rate=0.5)
    out = _np(layer(x, training=True))
    assert np.all((out == 0).sum(axis=1) == 4)


def test_targeted_dropout_prune_at_inference_zeroes_all_candidates():
    x = _distinct_magnitudes((6, 2, 5), seed=5)
    layer = sk.dropout.TargetedDropout(
        rate=0.2, target_rate=0.4, prune_at_inference=True
    )
    np.testing.assert_array_equal(
        _np(layer(x)), np.where(candidate_reference(x, 0.4), 0, x)
    )
    out = _np(layer(x, training=True))  # training still drops at random
    assert not np.any((out == 0) & ~candidate_reference(x, 0.4))


def test_targeted_dropout_without_candidates_or_rate_is_identity():
    x = _distinct_magnitudes((4, 10), seed=6)
    for rate, target_rate in [(0.0, 0.5), (0.5, 0.0), (1.0, 0.05)]:
        layer = sk.dropout.TargetedDropout(rate=rate, target_rate=target_rate)
        np.testing.assert_array_equal(_np(layer(x, training=True)), x)


def test_targeted_dropout_seed_makes_masks_reproducible():
    x = _distinct_magnitudes((32, 10), seed=7)
    first = sk.dropout.TargetedDropout(rate=0.5, target_rate=0.6, seed=11)
    second = sk.dropout.TargetedDropout(rate=0.5, target_rate=0.6, seed=11)
    outs = [_np(first(x, training=True)) for _ in range(2)]
    np.testing.assert_array_equal(outs[0], _np(second(x, training=True)))
    assert not np.array_equal(outs[0], outs[1])


def test_targeted_dropout_config_round_trip():
    layer = sk.dropout.TargetedDropout(
        rate=0.3, target_rate=0.6, seed=1, prune_at_inference=True, name="td"
    )
    config = layer.get_config()
    assert {k: config[k] for k in ("rate", "target_rate", "seed")} == {
        "rate": 0.3,
        "target_rate": 0.6,
        "seed": 1,
    }
    assert config["prune_at_inference"] is True
    assert sk.dropout.TargetedDropout.from_config(config).get_config() == config


def test_targeted_dropout_rejects_bad_arguments():
    for rate in [-0.1, 1.1, None]:
        with pytest.raises(ValueError, match=_invalid("rate", rate)):
            sk.dropout.TargetedDropout(rate=rate, target_rate=0.5)
    for target_rate in [-0.1, 1.5, float("nan")]:
        with pytest.raises(ValueError, match=_invalid("target_rate", target_rate)):
            sk.dropout.TargetedDropout(rate=0.5, target_rate=target_rate)
    with pytest.raises(ValueError, match=_invalid("seed", -2)):
        sk.dropout.TargetedDropout(rate=0.5, target_rate=0.5, seed=-2)
    with pytest.raises(ValueError, match=_invalid("prune_at_inference", "yes")):
        sk.dropout.TargetedDropout(rate=0.5, target_rate=0.5, prune_at_inference="yes")


def test_targeted_dropout_rejects_dynamic_unit_dimensions():
    layer = sk.dropout.TargetedDropout(rate=0.5, target_rate=0.5)
    with pytest.raises(ValueError, match=re.escape("input_shape=(None, None, 4)")):
        layer.build((None, None, 4))
