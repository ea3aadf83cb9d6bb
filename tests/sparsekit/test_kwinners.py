"""sk.layers.KWinners against a NumPy reference of boosted k-WTA (Ahmad 2019)."""

import keras
import numpy as np
import pytest

import sparsekit as sk
from tests.sparsekit.test_ops_topk import reference_mask
from tests.sparsekit.test_topk import input_gradient


class ReferenceKWinners:
    """The formulas of the docstring, in float32 NumPy."""

    def __init__(self, n, k, beta, period):
        self.n, self.k, self.beta, self.period = n, k, beta, period
        self.duty = np.zeros(n, "float32")
        self.seen = 0.0

    def train_call(self, x):
        boost = np.exp(
            np.float32(self.beta) * (np.float32(self.k / self.n) - self.duty)
        )
        mask = reference_mask(x * boost.astype("float32"), self.k).astype("float32")
        batch = len(x)
        self.seen = min(self.seen + batch, self.period)
        rate = min(1.0, batch / self.seen)
        self.duty = (self.duty + rate * (mask.mean(axis=0) - self.duty)).astype(
            "float32"
        )
        return x * mask


def skewed_data(n_samples=128, units=16, strong=4, seed=0):
    """Uniform activations with a few units systematically larger."""
    x = np.random.default_rng(seed).uniform(0, 1, size=(n_samples, units))
    x[:, :strong] += 1.5
    return x.astype("float32")


def as_numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_training_calls_match_the_reference():
    x = skewed_data()
    layer = sk.layers.KWinners(k=3, boost_strength=2.0, duty_cycle_period=40)
    ref = ReferenceKWinners(16, 3, 2.0, 40)
    for batch in np.split(x, 8):  # the period is reached after 3 batches of 16
        out = as_numpy(layer(batch, training=True))
        np.testing.assert_array_equal(out, ref.train_call(batch))
        np.testing.assert_allclose(as_numpy(layer.duty_cycle), ref.duty, atol=1e-6)
    assert float(as_numpy(layer.samples_seen)) == 40.0
    # Each sample has exactly k winners, so the duty cycles always sum to k.
    np.testing.assert_allclose(as_numpy(layer.duty_cycle).sum(), 3.0, rtol=1e-5)


def test_inference_is_plain_topk_and_leaves_the_duty_cycle_alone():
    x = skewed_data()
    layer = sk.layers.KWinners(k=2, boost_strength=3.0, k_inference_factor=1.5)
    layer(x[:16], training=True)
    duty = as_numpy(layer.duty_cycle)
    out = as_numpy(layer(x, training=False))
    np.testing.assert_array_equal(out, x * reference_mask(x, 3))  # round(2 * 1.5)
    np.testing.assert_array_equal(as_numpy(layer.duty_cycle), duty)


def test_boost_inference_uses_the_boosted_values():
    x = skewed_data()
    layer = sk.layers.KWinners(k=2, boost_strength=3.0, boost_inference=True)
    layer(x[:16], training=True)
    boost = np.exp(3.0 * (2 / 16 - as_numpy(layer.duty_cycle)))
    out = as_numpy(layer(x, training=False))
    np.testing.assert_array_equal(out, x * reference_mask(x * boost, 2))


def test_zero_boost_strength_is_topk_in_training():
    x = skewed_data()
    layer = sk.layers.KWinners(k=4, boost_strength=0.0)
    for batch in np.split(x, 4):
        out = as_numpy(layer(batch, training=True))
        np.testing.assert_array_equal(out, batch * reference_mask(batch, 4))


def test_k_inference_is_capped_at_the_units():
    layer = sk.layers.KWinners(k=3, k_inference_factor=10.0)
    layer.build((None, 4, 2))
    assert layer.k_inference == 8


def test_boosting_leaves_far_fewer_dead_units_than_topk():
    x = skewed_data(n_samples=256, units=32, strong=4)
    batches = np.split(x, 8)
    topk = sk.layers.TopK(k=4)
    kwinners = sk.layers.KWinners(k=4, boost_strength=2.0, duty_cycle_period=200)
    for _ in range(2):  # let the duty cycles settle
        for batch in batches:
            kwinners(batch, training=True)
    won_topk = np.zeros(32, bool)
    won_kwinners = np.zeros(32, bool)
    for batch in batches:  # one pass over the data set, in training mode
        won_topk |= (as_numpy(topk(batch, training=True)) != 0).any(axis=0)
        won_kwinners |= (as_numpy(kwinners(batch, training=True)) != 0).any(axis=0)
    dead_topk = int((~won_topk).sum())
    dead_kwinners = int((~won_kwinners).sum())
    assert dead_topk == 28  # only the 4 strong units ever win
    assert dead_kwinners <= 2


def test_gradient_reaches_only_the_winners():
    x = skewed_data()[:16]
    duty = np.linspace(0, 0.4, 16).astype("float32")
    boost = np.exp(2.0 * (3 / 16 - duty))
    for boost_inference, expected in [
        (False, reference_mask(x, 3)),
        (True, reference_mask(x * boost, 3)),
    ]:
        layer = sk.layers.KWinners(
            k=3, boost_strength=2.0, boost_inference=boost_inference
        )
        layer.build(x.shape)
        layer.duty_cycle.assign(duty)
        grad = input_gradient(lambda t, layer=layer: layer(t, training=False), x)
        np.testing.assert_array_equal(grad, expected)


def test_duty_cycle_is_saved_with_the_model(tmp_path):
    x = skewed_data()
    inputs = keras.Input((16,))
    model = keras.Model(inputs, sk.layers.KWinners(k=3, duty_cycle_period=50)(inputs))
    model(x, training=True)
    path = tmp_path / "kwinners.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    for name in ("duty_cycle", "samples_seen"):
        saved = as_numpy(getattr(model.layers[-1], name))
        np.testing.assert_array_equal(as_numpy(getattr(loaded.layers[-1], name)), saved)
    assert float(as_numpy(loaded.layers[-1].samples_seen)) == 50.0


def test_duty_cycle_updates_under_data_parallel_training():
    x = skewed_data(n_samples=64)
    y = np.zeros((64, 1), "float32")

    def fit():
        inputs = keras.Input((16,))
        layer = sk.layers.KWinners(k=3, duty_cycle_period=1000)
        outputs = keras.layers.Dense(1)(layer(keras.layers.Dense(16)(inputs)))
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        return layer

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy(
            ["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice()
        )
        with strategy.scope():
            layer = fit()
        per_replica_samples = 64 / 2  # replicas' counts are averaged
    else:
        import jax

        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=jax.devices("cpu")[:2])
        )
        layer = fit()
        per_replica_samples = 64  # the update sees the global batch
    duty = as_numpy(layer.duty_cycle)
    assert float(as_numpy(layer.samples_seen)) == per_replica_samples
    np.testing.assert_allclose(duty.sum(), 3.0, rtol=1e-5)
    assert np.all((duty >= 0) & (duty <= 1)) and np.count_nonzero(duty) >= 3


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"k": 0}, "k"),
        ({"k": 2.5}, "k"),
        ({"k": 3, "boost_strength": -0.5}, "boost_strength"),
        ({"k": 3, "boost_strength": float("nan")}, "boost_strength"),
        ({"k": 3, "duty_cycle_period": 0}, "duty_cycle_period"),
        ({"k": 3, "duty_cycle_period": 10.0}, "duty_cycle_period"),
        ({"k": 3, "k_inference_factor": 0.5}, "k_inference_factor"),
        ({"k": 3, "boost_inference": 1}, "boost_inference"),
    ],
)
def test_invalid_arguments(kwargs, name):
    value = kwargs[name]
    with pytest.raises(ValueError, match=rf"`{name}`.*Received: {name}={value!r}"):
        sk.layers.KWinners(**kwargs)


def test_k_larger_than_the_units_fails_in_build():
    with pytest.raises(ValueError, match=r"`k`: expected an integer in \[1, 8\].*k=9"):
        sk.layers.KWinners(k=9).build((None, 4, 2))


def test_unknown_unit_dimension_fails_in_build():
    with pytest.raises(ValueError, match=r"`input_shape`.*input_shape=\(None, None\)"):
        sk.layers.KWinners(k=2).build((None, None))
