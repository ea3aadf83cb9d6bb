"""sk.layers.SparseDense: exact mask size, seeding, masked maths, zeros kept."""

import keras
import numpy as np
import pytest

import sparsekit as sk


def as_numpy(x):
    return keras.ops.convert_to_numpy(x)


def built(layer, input_dim):
    layer.build((None, input_dim))
    return layer


@pytest.mark.parametrize(
    "input_dim, units, density, expected",
    [(10, 12, 0.3, 36), (7, 5, 0.5, 18), (4, 8, 1.0, 32), (3, 3, 0.01, 1)],
)
def test_mask_has_exactly_the_requested_number_of_connections(
    input_dim, units, density, expected
):
    layer = built(sk.layers.SparseDense(units, density=density, seed=0), input_dim)
    mask = as_numpy(layer.kernel_mask)
    assert mask.shape == (input_dim, units)
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert int(mask.sum()) == expected
    assert not layer.kernel_mask.trainable
    # The kernel starts masked.
    assert np.all(as_numpy(layer.kernel)[mask == 0] == 0)


def test_same_seed_same_mask_and_matches_numpy():
    a = built(sk.layers.SparseDense(12, density=0.3, seed=7), 10)
    b = built(sk.layers.SparseDense(12, density=0.3, seed=7), 10)
    c = built(sk.layers.SparseDense(12, density=0.3, seed=8), 10)
    np.testing.assert_array_equal(as_numpy(a.kernel_mask), as_numpy(b.kernel_mask))
    assert not np.array_equal(as_numpy(a.kernel_mask), as_numpy(c.kernel_mask))
    # Reference: the first round(0.3 * 120) cells of a seeded permutation.
    expected = np.zeros(120, "float32")
    expected[np.random.default_rng(7).permutation(120)[:36]] = 1.0
    np.testing.assert_array_equal(as_numpy(a.kernel_mask), expected.reshape(10, 12))


def test_seed_none_is_drawn_from_the_global_seed_and_recorded():
    keras.utils.set_random_seed(3)
    first = sk.layers.SparseDense(4, density=0.5)
    keras.utils.set_random_seed(3)
    second = sk.layers.SparseDense(4, density=0.5)
    assert isinstance(first.seed, int) and first.seed == second.seed
    assert first.get_config()["seed"] == first.seed


def test_forward_matches_numpy():
    layer = built(
        sk.layers.SparseDense(6, density=0.4, seed=2, activation="relu"), input_dim=5
    )
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(5, 6)).astype("float32")  # dense on purpose
    bias = rng.normal(size=(6,)).astype("float32")
    layer.kernel.assign(kernel)
    layer.bias.assign(bias)
    x = rng.normal(size=(4, 3, 5)).astype("float32")  # any leading axes
    mask = as_numpy(layer.kernel_mask)
    expected = np.maximum(x @ (kernel * mask) + bias, 0.0)
    np.testing.assert_allclose(as_numpy(layer(x)), expected, rtol=1e-5, atol=1e-6)


def test_masked_weights_stay_exactly_zero_through_fit():
    inputs = keras.Input((10,))
    layer = sk.layers.SparseDense(8, density=0.25, seed=4, kernel_constraint="non_neg")
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    # Fill the whole kernel, masked cells included: the update must re-zero them.
    layer.kernel.assign(np.full((10, 8), 0.5, "float32"))
    model.compile(optimizer=keras.optimizers.AdamW(1e-2, weight_decay=0.1), loss="mse")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(32, 10)).astype("float32")
    model.fit(x, rng.normal(size=(32, 1)), batch_size=8, epochs=2, verbose=0)
    kernel, mask = as_numpy(layer.kernel), as_numpy(layer.kernel_mask)
    assert np.all(kernel[mask == 0] == 0.0)
    assert np.all(kernel >= 0.0)  # the user's constraint still applies
    assert np.any(kernel[mask == 1] != 0.5)  # and the connections trained


def test_save_load_keeps_the_mask_and_the_zeros(tmp_path):
    inputs = keras.Input((10,))
    layer = sk.layers.SparseDense(6, density=0.3, seed=1)
    model = keras.Model(inputs, layer(inputs))
    # A mask that the seed would not produce: the file, not the seed, must win.
    custom = np.zeros((10, 6), "float32")
    custom[::2] = 1.0
    layer.kernel_mask.assign(custom)
    layer.kernel.assign(np.ones((10, 6), "float32") * custom)
    path = tmp_path / "sparse_dense.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    restored = loaded.layers[-1]
    np.testing.assert_array_equal(as_numpy(restored.kernel_mask), custom)
    x = np.random.default_rng(2).normal(size=(16, 10)).astype("float32")
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )
    # The projection after each step must use the restored mask too.
    restored.kernel.assign(np.ones((10, 6), "float32"))
    loaded.compile(optimizer="sgd", loss="mse")
    loaded.fit(x, np.ones((16, 6)), epochs=1, verbose=0)
    assert np.all(as_numpy(restored.kernel)[custom == 0] == 0.0)


def test_without_bias():
    layer = built(sk.layers.SparseDense(3, density=0.5, seed=0, use_bias=False), 4)
    assert layer.bias is None and len(layer.trainable_weights) == 1
    x = np.ones((2, 4), "float32")
    expected = x @ (as_numpy(layer.kernel) * as_numpy(layer.kernel_mask))
    np.testing.assert_allclose(as_numpy(layer(x)), expected, rtol=1e-6)


def test_config_round_trip():
    layer = sk.layers.SparseDense(
        5, density=0.2, seed=9, activation="relu", kernel_regularizer="l2"
    )
    config = layer.get_config()
    clone = sk.layers.SparseDense.from_config(config)
    assert clone.get_config() == config
    assert (config["units"], config["density"], config["seed"]) == (5, 0.2, 9)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"units": 0, "density": 0.5}, "units"),
        ({"units": 2.5, "density": 0.5}, "units"),
        ({"units": "4", "density": 0.5}, "units"),
        ({"units": 4, "density": 0.0}, "density"),
        ({"units": 4, "density": 1.5}, "density"),
        ({"units": 4, "density": -0.1}, "density"),
        ({"units": 4, "density": "0.5"}, "density"),
        ({"units": 4, "density": 0.5, "seed": -1}, "seed"),
        ({"units": 4, "density": 0.5, "seed": 1.5}, "seed"),
        ({"units": 4, "density": 0.5, "use_bias": "no"}, "use_bias"),
    ],
)
def test_invalid_arguments(kwargs, name):
    value = kwargs[name]
    with pytest.raises(ValueError, match=rf"`{name}`.*Received: {name}={value!r}"):
        sk.layers.SparseDense(**kwargs)
