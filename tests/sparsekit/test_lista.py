"""sk.layers.LISTA: equals ISTA at initialisation, learns to code faster."""

import keras
import numpy as np
import pytest

import sparsekit as sk


def unit_atoms(n_atoms, n_features, seed=0):
    d = np.random.default_rng(seed).normal(size=(n_atoms, n_features))
    return (d / np.linalg.norm(d, axis=1, keepdims=True)).astype("float32")


def signals(n, n_features=16, seed=1):
    return np.random.default_rng(seed).normal(size=(n, n_features)).astype("float32")


@pytest.mark.parametrize("positive", [False, True])
def test_from_dictionary_equals_ista(positive):
    dictionary, x, lam = unit_atoms(32, 16), signals(64), 0.3
    for n_layers, shared_weights in [(1, True), (4, True), (4, False)]:
        layer = sk.layers.LISTA.from_dictionary(
            dictionary, n_layers, lam, shared_weights=shared_weights, positive=positive
        )
        codes = keras.ops.convert_to_numpy(layer(x))
        expected = sk.coding.ista(
            x, dictionary, lam, n_iter=n_layers, positive=positive
        )
        expected = keras.ops.convert_to_numpy(expected)
        assert 0.0 < np.mean(codes != 0) < 1.0  # thresholds active: a real check
        np.testing.assert_allclose(codes, expected, rtol=1e-5, atol=1e-6)


def test_weight_shapes_shared_and_per_layer():
    shared = sk.layers.LISTA(units=12, n_layers=3, lam=0.1, seed=0)
    shared.build((None, 10))
    assert [tuple(w.shape) for w in shared.trainable_weights] == [
        (10, 12),
        (1, 12, 12),
        (1, 12),
    ]
    per_layer = sk.layers.LISTA(units=12, n_layers=3, lam=0.1, shared_weights=False)
    per_layer.build((None, 10))
    shapes = [tuple(w.shape) for w in per_layer.trainable_weights]
    assert shapes == [(10, 12), (2, 12, 12), (3, 12)]
    single = sk.layers.LISTA(units=12, n_layers=1, lam=0.1)
    single.build((None, 10))
    assert len(single.trainable_weights) == 2  # no S: z_0 = 0


def test_default_init_is_ista_on_a_seeded_unit_norm_dictionary():
    layer = sk.layers.LISTA(units=24, n_layers=3, lam=0.2, seed=5)
    x = signals(8)
    out = keras.ops.convert_to_numpy(layer(x))
    encoder = keras.ops.convert_to_numpy(layer.encoder)
    # W_e = Dᵀ / L with unit-norm atoms: columns all of norm 1 / L.
    norms = np.linalg.norm(encoder, axis=0)
    np.testing.assert_allclose(norms, norms[0], rtol=1e-5)
    dictionary = encoder.T / norms[:, None]
    expected = sk.coding.ista(x, dictionary, 0.2, n_iter=3)
    np.testing.assert_allclose(out, keras.ops.convert_to_numpy(expected), atol=1e-5)
    again = sk.layers.LISTA(units=24, n_layers=3, lam=0.2, seed=5)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again(x)), out)


def test_unseeded_init_follows_keras_set_random_seed():
    outs = []
    for _ in range(2):
        keras.utils.set_random_seed(3)
        layer = sk.layers.LISTA(units=8, n_layers=2, lam=0.1)
        outs.append(keras.ops.convert_to_numpy(layer(signals(4))))
    np.testing.assert_array_equal(outs[0], outs[1])


def test_training_lowers_code_error_against_fista_targets():
    dictionary, lam = unit_atoms(32, 16), 0.2
    x = signals(1024)
    targets = keras.ops.convert_to_numpy(
        sk.coding.fista(x, dictionary, lam, n_iter=300)
    )
    layer = sk.layers.LISTA.from_dictionary(dictionary, n_layers=3, lam=lam)
    model = keras.Sequential([keras.Input((16,)), layer])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    before = model.evaluate(x, targets, verbose=0)
    model.fit(x, targets, batch_size=128, epochs=15, verbose=0)
    after = model.evaluate(x, targets, verbose=0)
    assert after < 0.7 * before
    assert keras.ops.convert_to_numpy(layer.theta).min() >= 0.0


def test_nd_inputs_and_output_shape():
    layer = sk.layers.LISTA(units=6, n_layers=2, lam=0.1, seed=0)
    out = layer(np.ones((2, 3, 5), "float32"))
    assert tuple(out.shape) == (2, 3, 6)
    assert layer.compute_output_shape((None, 3, 5)) == (None, 3, 6)


BAD_CALLS = [
    (dict(units=0), r"`units`.*Received: units=0"),
    (dict(n_layers=0), r"`n_layers`.*Received: n_layers=0"),
    (dict(lam=-0.5), r"`lam`.*Received: lam=-0.5"),
    (
        dict(shared_weights="yes"),
        r"`shared_weights`.*Received: shared_weights='yes'",
    ),
    (dict(positive=None), r"`positive`.*Received: positive=None"),
    (dict(seed=-2), r"`seed`.*Received: seed=-2"),
]


def test_invalid_arguments():
    for kwargs, match in BAD_CALLS:
        args = dict(units=8, n_layers=2, lam=0.1)
        args.update(kwargs)
        with pytest.raises(ValueError, match=match):
            sk.layers.LISTA(**args)


def test_from_dictionary_checks_the_dictionary():
    with pytest.raises(ValueError, match=r"`dictionary`.*2-D.*dictionary.shape=\(5,\)"):
        sk.layers.LISTA.from_dictionary(np.ones(5), 2, 0.1)
    with pytest.raises(
        ValueError, match=r"`dictionary`.*finite.*dictionary containing"
    ):
        sk.layers.LISTA.from_dictionary(np.full((4, 5), np.nan), 2, 0.1)
    with pytest.raises(ValueError, match=r"`n_layers`.*Received: n_layers=0"):
        sk.layers.LISTA.from_dictionary(unit_atoms(4, 5), 0, 0.1)
    layer = sk.layers.LISTA.from_dictionary(unit_atoms(4, 5), 2, 0.1)
    with pytest.raises(ValueError, match=r"`dictionary`.*7 features.*shape=\(4, 5\)"):
        layer(np.ones((2, 7), "float32"))
