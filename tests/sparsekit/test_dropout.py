"""DropConnectDense and the targeted dropouts against numpy references."""

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


# TargetedActivationDropout --------------------------------------------------------


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


def test_targeted_activation_inference_is_identity():
    x = _distinct_magnitudes((4, 10))
    layer = sk.dropout.TargetedActivationDropout(rate=0.9, target_rate=0.9, seed=0)
    for training in (None, False):
        np.testing.assert_array_equal(_np(layer(x, training=training)), x)


def test_targeted_activation_drops_only_candidates():
    for shape in [(64, 10), (16, 3, 2, 4)]:
        x = _distinct_magnitudes(shape, seed=1)
        candidates = candidate_reference(x, 0.5)
        layer = sk.dropout.TargetedActivationDropout(rate=0.5, target_rate=0.5, seed=2)
        out = _np(layer(x, training=True))
        dropped = out == 0
        np.testing.assert_array_equal(out[~dropped], x[~dropped])
        # Units outside the candidate set are never dropped.
        assert not np.any(dropped & ~candidates)
        assert 0.35 < dropped[candidates].mean() < 0.65


def test_targeted_activation_drops_about_rate_of_the_candidates():
    x = _distinct_magnitudes((256, 16), seed=3)
    candidates = candidate_reference(x, 0.25)
    out = _np(
        sk.dropout.TargetedActivationDropout(rate=0.3, target_rate=0.25)(
            x, training=True
        )
    )
    assert abs((out == 0)[candidates].mean() - 0.3) < 0.05


def test_targeted_activation_rate_one_drops_exactly_the_candidates():
    x = _distinct_magnitudes((8, 10), seed=4)
    for target_rate, k in [(0.7, 7), (0.29, 2), (1.0, 10)]:
        layer = sk.dropout.TargetedActivationDropout(rate=1.0, target_rate=target_rate)
        out = _np(layer(x, training=True))
        expected = np.where(candidate_reference(x, target_rate), 0, x)
        np.testing.assert_array_equal(out, expected)
        assert np.all((out == 0).sum(axis=1) == k)


def test_targeted_activation_ties_give_exactly_k_candidates():
    x = np.ones((5, 8), "float32")
    layer = sk.dropout.TargetedActivationDropout(rate=1.0, target_rate=0.5)
    out = _np(layer(x, training=True))
    assert np.all((out == 0).sum(axis=1) == 4)


def test_targeted_activation_prune_at_inference_zeroes_all_candidates():
    x = _distinct_magnitudes((6, 2, 5), seed=5)
    layer = sk.dropout.TargetedActivationDropout(
        rate=0.2, target_rate=0.4, prune_at_inference=True
    )
    np.testing.assert_array_equal(
        _np(layer(x)), np.where(candidate_reference(x, 0.4), 0, x)
    )
    out = _np(layer(x, training=True))  # training still drops at random
    assert not np.any((out == 0) & ~candidate_reference(x, 0.4))


def test_targeted_activation_without_candidates_or_rate_is_identity():
    x = _distinct_magnitudes((4, 10), seed=6)
    for rate, target_rate in [(0.0, 0.5), (0.5, 0.0), (1.0, 0.05)]:
        layer = sk.dropout.TargetedActivationDropout(rate=rate, target_rate=target_rate)
        np.testing.assert_array_equal(_np(layer(x, training=True)), x)


def test_targeted_activation_seed_makes_masks_reproducible():
    x = _distinct_magnitudes((32, 10), seed=7)
    first = sk.dropout.TargetedActivationDropout(rate=0.5, target_rate=0.6, seed=11)
    second = sk.dropout.TargetedActivationDropout(rate=0.5, target_rate=0.6, seed=11)
    outs = [_np(first(x, training=True)) for _ in range(2)]
    np.testing.assert_array_equal(outs[0], _np(second(x, training=True)))
    assert not np.array_equal(outs[0], outs[1])


def test_targeted_activation_config_round_trip():
    layer = sk.dropout.TargetedActivationDropout(
        rate=0.3, target_rate=0.6, seed=1, prune_at_inference=True, name="td"
    )
    config = layer.get_config()
    assert {k: config[k] for k in ("rate", "target_rate", "seed")} == {
        "rate": 0.3,
        "target_rate": 0.6,
        "seed": 1,
    }
    assert config["prune_at_inference"] is True
    assert (
        sk.dropout.TargetedActivationDropout.from_config(config).get_config() == config
    )


def test_targeted_activation_rejects_bad_arguments():
    for rate in [-0.1, 1.1, None]:
        with pytest.raises(ValueError, match=_invalid("rate", rate)):
            sk.dropout.TargetedActivationDropout(rate=rate, target_rate=0.5)
    for target_rate in [-0.1, 1.5, float("nan")]:
        with pytest.raises(ValueError, match=_invalid("target_rate", target_rate)):
            sk.dropout.TargetedActivationDropout(rate=0.5, target_rate=target_rate)
    with pytest.raises(ValueError, match=_invalid("seed", -2)):
        sk.dropout.TargetedActivationDropout(rate=0.5, target_rate=0.5, seed=-2)
    with pytest.raises(ValueError, match=_invalid("prune_at_inference", "yes")):
        sk.dropout.TargetedActivationDropout(
            rate=0.5, target_rate=0.5, prune_at_inference="yes"
        )


def test_targeted_activation_rejects_dynamic_unit_dimensions():
    layer = sk.dropout.TargetedActivationDropout(rate=0.5, target_rate=0.5)
    with pytest.raises(ValueError, match=re.escape("input_shape=(None, None, 4)")):
        layer.build((None, None, 4))


# TargetedDropoutDense (Gomez et al. 2019) -----------------------------------------


def _distinct_kernel(n_in, units, seed=0):
    """A kernel whose magnitudes are distinct within every column and whose
    column norms are distinct, so the candidates are unambiguous."""
    rng = np.random.default_rng(seed)
    columns = [(rng.permutation(n_in) + 1) * (1 + 0.37 * j) for j in range(units)]
    kernel = np.stack(columns, axis=1)[:, rng.permutation(units)]
    signs = rng.choice([-1.0, 1.0], size=(n_in, units))
    return (0.01 * kernel * signs).astype("float32")


def weight_candidates_reference(w, target_rate):
    """Per output column, the floor(target_rate * n_in) smallest |w|."""
    k = int(np.floor(target_rate * w.shape[0] + 1e-9))
    ranks = np.argsort(np.argsort(np.abs(w), axis=0, kind="stable"), axis=0)
    return ranks < k


def unit_candidates_reference(w, target_rate):
    """Whole columns of the floor(target_rate * units) smallest column norms."""
    k = int(np.floor(target_rate * w.shape[1] + 1e-9))
    norms = np.linalg.norm(w, axis=0)
    units = np.argsort(np.argsort(norms, kind="stable"), kind="stable") < k
    return np.broadcast_to(units[None, :], w.shape)


def _targeted(units=12, in_dim=20, rate=0.5, target_rate=0.5, seed=0, **kwargs):
    layer = sk.dropout.TargetedDropoutDense(
        units, rate=rate, target_rate=target_rate, seed=seed, **kwargs
    )
    layer.build((None, in_dim))
    layer.kernel.assign(_distinct_kernel(in_dim, units, seed=seed))
    if layer.bias is not None:
        layer.bias.assign(np.linspace(-1, 1, units).astype("float32"))
    return layer


def _read_kernel(layer, training):
    """The kernel the layer multiplied by: identity inputs read it row by row."""
    eye = np.eye(layer.kernel.shape[0], dtype="float32")
    out = _np(layer(eye, training=training))
    return out - (0 if layer.bias is None else _np(layer.bias))


def test_targeted_dense_candidates_rank_weights_within_each_output_column():
    for in_dim, units, target_rate in [(20, 12, 0.5), (7, 3, 0.29), (10, 4, 1.0)]:
        layer = _targeted(units, in_dim, target_rate=target_rate, seed=1)
        w = _np(layer.kernel)
        cand = _np(layer.candidates())
        np.testing.assert_array_equal(cand, weight_candidates_reference(w, target_rate))
        k = int(np.floor(target_rate * in_dim + 1e-9))
        assert np.all(cand.sum(axis=0) == k)  # exactly k per column, not globally
        # Every candidate is smaller than every kept weight of its own column.
        for j in range(units):
            if 0 < k < in_dim:
                assert np.abs(w[cand[:, j], j]).max() < np.abs(w[~cand[:, j], j]).min()


def test_targeted_dense_unit_candidates_are_columns_of_smallest_norm():
    layer = _targeted(10, 6, target_rate=0.3, variant="unit", seed=2)
    w = _np(layer.kernel)
    cand = _np(layer.candidates())
    np.testing.assert_array_equal(cand, unit_candidates_reference(w, 0.3))
    assert (
        cand.all(axis=0).sum() == 3 and not (cand.any(axis=0) & ~cand.all(axis=0)).any()
    )


def test_targeted_dense_rate_one_trains_with_the_candidates_pruned():
    for variant, reference in [
        ("weight", weight_candidates_reference),
        ("unit", unit_candidates_reference),
    ]:
        layer = _targeted(rate=1.0, target_rate=0.4, variant=variant, seed=3)
        w = _np(layer.kernel)
        expected = np.where(reference(w, 0.4), 0.0, w)
        np.testing.assert_allclose(_read_kernel(layer, True), expected, atol=1e-6)


def test_targeted_dense_weight_drop_count_and_no_rescaling():
    rate, target_rate, in_dim, units = 0.3, 0.5, 64, 48
    layer = _targeted(units, in_dim, rate=rate, target_rate=target_rate, seed=4)
    layer.bias.assign(np.zeros(units, "float32"))
    w = _np(layer.kernel)
    cand = weight_candidates_reference(w, target_rate)
    counts = []
    for _ in range(5):
        used = _read_kernel(layer, True)
        dropped = used == 0
        assert not np.any(dropped & ~cand)  # only candidates are ever dropped
        np.testing.assert_array_equal(used[~dropped], w[~dropped])  # not rescaled
        counts.append(dropped.sum())
    # Expected drops per step: gamma * alpha * |W| = 0.15 * 3072 = 460.8,
    # binomial SD ~ 19.7 per step; 5 steps average within 4 SE.
    expected = target_rate * rate * in_dim * units
    sd = np.sqrt(cand.sum() * rate * (1 - rate))
    assert abs(np.mean(counts) - expected) < 4 * sd / np.sqrt(len(counts))
    assert len(set(counts)) > 1  # a fresh mask every step


def test_targeted_dense_unit_variant_drops_whole_candidate_columns():
    rate, units = 0.5, 200
    layer = _targeted(units, 8, rate=rate, target_rate=0.5, variant="unit", seed=5)
    layer.bias.assign(np.zeros(units, "float32"))
    w = _np(layer.kernel)
    cand_units = unit_candidates_reference(w, 0.5)[0]
    used = _read_kernel(layer, True)
    dropped_units = (used == 0).all(axis=0)
    partly = (used == 0).any(axis=0) & ~dropped_units
    assert not partly.any()  # a unit goes whole or stays whole
    assert not np.any(dropped_units & ~cand_units)
    # 100 candidate units, each dropped with p = 0.5: SD 5.
    assert abs(dropped_units.sum() - 50) < 20


def test_targeted_dense_inference_prunes_the_candidates():
    layer = _targeted(rate=0.5, target_rate=0.6, activation="relu", seed=6)
    w, b = _np(layer.kernel), _np(layer.bias)
    x = np.random.default_rng(7).normal(size=(5, 20)).astype("float32")
    pruned = np.where(weight_candidates_reference(w, 0.6), 0.0, w)
    for training in (None, False):
        np.testing.assert_allclose(
            _np(layer(x, training=training)),
            np.maximum(x @ pruned + b, 0),
            rtol=1e-5,
            atol=1e-5,
        )
    dense = _targeted(rate=0.5, target_rate=0.6, prune_at_inference=False, seed=6)
    np.testing.assert_allclose(_np(dense(x)), x @ w + b, rtol=1e-5, atol=1e-5)


def test_targeted_dense_ranks_afresh_after_the_weights_change():
    layer = _targeted(rate=1.0, target_rate=0.5, seed=8)
    first = _np(layer.candidates())
    layer.kernel.assign(_distinct_kernel(20, 12, seed=9))
    second = _np(layer.candidates())
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(
        second, weight_candidates_reference(_np(layer.kernel), 0.5)
    )


def test_targeted_dense_ties_give_exactly_k_candidates_per_column():
    layer = sk.dropout.TargetedDropoutDense(5, rate=1.0, target_rate=0.5)
    layer.build((None, 8))
    layer.kernel.assign(np.ones((8, 5), "float32"))
    assert np.all(_np(layer.candidates()).sum(axis=0) == 4)
    unit = sk.dropout.TargetedDropoutDense(6, 1.0, 0.5, variant="unit")
    unit.build((None, 3))
    unit.kernel.assign(np.ones((3, 6), "float32"))
    assert _np(unit.candidates()).all(axis=0).sum() == 3


def test_targeted_dense_without_rate_or_candidates_is_dense_in_training():
    for rate, target_rate in [(0.0, 0.5), (0.5, 0.0), (1.0, 0.04)]:
        layer = _targeted(rate=rate, target_rate=target_rate, seed=10)
        np.testing.assert_allclose(
            _read_kernel(layer, True), _np(layer.kernel), atol=1e-6
        )


def test_targeted_dense_seed_makes_masks_reproducible():
    first, second = _targeted(seed=11), _targeted(seed=11)
    draws = [_read_kernel(first, True) for _ in range(2)]
    np.testing.assert_array_equal(draws[0], _read_kernel(second, True))
    assert not np.array_equal(draws[0], draws[1])


def test_targeted_dense_config_round_trip():
    layer = sk.dropout.TargetedDropoutDense(
        7, rate=0.4, target_rate=0.75, variant="unit", seed=2, activation="relu"
    )
    config = layer.get_config()
    assert {
        k: config[k]
        for k in (
            "units",
            "rate",
            "target_rate",
            "variant",
            "seed",
            "prune_at_inference",
        )
    } == {
        "units": 7,
        "rate": 0.4,
        "target_rate": 0.75,
        "variant": "unit",
        "seed": 2,
        "prune_at_inference": True,
    }
    assert sk.dropout.TargetedDropoutDense.from_config(config).get_config() == config


def test_targeted_dense_rejects_bad_arguments():
    make = sk.dropout.TargetedDropoutDense
    for units in [0, 2.5, True]:
        with pytest.raises(ValueError, match=_invalid("units", units)):
            make(units, rate=0.5, target_rate=0.5)
    for rate in [-0.1, 1.1, float("nan"), None]:
        with pytest.raises(ValueError, match=_invalid("rate", rate)):
            make(4, rate=rate, target_rate=0.5)
    for target_rate in [-0.1, 1.5, "0.5"]:
        with pytest.raises(ValueError, match=_invalid("target_rate", target_rate)):
            make(4, rate=0.5, target_rate=target_rate)
    for variant in ["weights", "column", None]:
        with pytest.raises(ValueError, match=_invalid("variant", variant)):
            make(4, rate=0.5, target_rate=0.5, variant=variant)
    with pytest.raises(ValueError, match=_invalid("seed", -1)):
        make(4, rate=0.5, target_rate=0.5, seed=-1)
    with pytest.raises(ValueError, match=_invalid("prune_at_inference", 1)):
        make(4, rate=0.5, target_rate=0.5, prune_at_inference=1)


def test_old_targeted_dropout_name_says_where_it_went():
    with pytest.raises(
        AttributeError, match="TargetedDropoutDense.*TargetedActivation"
    ):
        sk.dropout.TargetedDropout  # noqa: B018


def test_targeted_dense_ties_take_the_lowest_rows_first():
    kernel = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 2.0], [0.5, 1.0]], "float32")
    layer = sk.dropout.TargetedDropoutDense(2, rate=1.0, target_rate=0.5)
    layer.build((None, 4))
    layer.kernel.assign(kernel)
    np.testing.assert_array_equal(
        _np(layer.candidates()), weight_candidates_reference(kernel, 0.5)
    )
    for target_rate in (0.25, 0.75):  # both sides of the partial sort
        layer.target_rate = target_rate
        np.testing.assert_array_equal(
            _np(layer.candidates()), weight_candidates_reference(kernel, target_rate)
        )
