"""Tests of `sk.pruning`: schedules, the MagnitudePruning callback, utilities."""

from __future__ import annotations

import json
import math
import time
import zipfile

import keras
import numpy as np
import pytest
from keras import ops
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sparsekit.pruning import (
    ConstantSparsity,
    MagnitudePruning,
    PolynomialDecay,
    strip,
    weight_sparsity,
)

JAX = keras.backend.backend() == "jax"

_digits = load_digits()
X_TRAIN, X_TEST, Y_TRAIN, Y_TEST = train_test_split(
    (_digits.data / 16.0).astype("float32"),
    _digits.target.astype("int32"),
    test_size=0.25,
    random_state=0,
    stratify=_digits.target,
)
BATCH = 64
# Whole batches only: one compiled step per model, and JAX's DataParallel needs it.
X_FIT, Y_FIT = X_TRAIN[:1344], Y_TRAIN[:1344]
STEPS_PER_EPOCH = len(X_FIT) // BATCH  # 21


def mlp(hidden=(128, 64), lr=3e-3, **dense_kwargs) -> keras.Model:
    layers = [keras.Input((64,))]
    layers += [keras.layers.Dense(h, activation="relu", **dense_kwargs) for h in hidden]
    layers.append(keras.layers.Dense(10))
    model = keras.Sequential(layers)
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def fit(model, epochs, callbacks=()):
    model.fit(
        X_FIT,
        Y_FIT,
        batch_size=BATCH,
        epochs=epochs,
        verbose=0,
        callbacks=list(callbacks),
    )


def kernels(model) -> list[np.ndarray]:
    return [to_numpy(layer.kernel) for layer in model.layers]


def to_numpy(x) -> np.ndarray:
    # EagerTensor.numpy() avoids numpy 2's __array__ copy-keyword warning on TF.
    x = ops.cast(x, "float32")  # also reads a tf.distribute variable
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def live_kernels(model) -> list[np.ndarray]:
    """The kernels the next train step will use (JAX's fit() carries its own copy)."""
    state = getattr(model, "_jax_state", None)
    if JAX and state is not None and not model._jax_state_synced:
        ids = [id(v) for v in model.trainable_variables]
        values = state["trainable_variables"]
        return [
            np.asarray(values[ids.index(id(layer.kernel))]) for layer in model.layers
        ]
    return kernels(model)


def iterations(model) -> int:
    return int(ops.cast(model.optimizer.iterations, "int32"))


def n_round(s, n):
    return math.floor(s * n + 0.5)


class ScheduledSparsity(keras.callbacks.Callback):
    """Records zeros per kernel at scheduled steps, after MagnitudePruning ran."""

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule
        self.records = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = iterations(self.model)

    def on_train_batch_begin(self, batch, logs=None):
        step = self.start + batch
        should_prune, target = self.schedule(step)
        if should_prune:
            zeros = [int(np.sum(k == 0)) for k in live_kernels(self.model)]
            self.records.append((step, target, zeros))


class StaysZero(keras.callbacks.Callback):
    """Checks before every step that weights zero at `start` are still zero."""

    def __init__(self):
        super().__init__()
        self.masks = None
        self.checked = 0

    def on_train_batch_begin(self, batch, logs=None):
        live = live_kernels(self.model)
        if self.masks is None:
            self.masks = [k == 0 for k in live]
        for k, zero in zip(live, self.masks, strict=True):
            assert np.all(k[zero] == 0)
        self.checked += 1


# ---------------------------------------------------------------- schedules


def numpy_polynomial(steps, s_i, s_f, t0, t_end, power):
    t = np.clip(np.asarray(steps, dtype="float64"), t0, t_end)
    return s_f + (s_i - s_f) * (1 - (t - t0) / (t_end - t0)) ** power


@pytest.mark.parametrize(
    "s_i, s_f, t0, t_end, power, freq",
    [(0.0, 0.8, 0, 100, 3, 10), (0.2, 0.9, 50, 333, 2.5, 7), (0.5, 0.5, 3, 4, 1, 1)],
)
def test_polynomial_decay_matches_numpy(s_i, s_f, t0, t_end, power, freq):
    schedule = PolynomialDecay(s_i, s_f, t0, t_end, power=power, frequency=freq)
    steps = np.arange(0, t_end + 60)
    got = np.array([schedule(int(t))[1] for t in steps])
    np.testing.assert_allclose(got, numpy_polynomial(steps, s_i, s_f, t0, t_end, power))
    pruned = [int(t) for t in steps if schedule(int(t))[0]]
    expected = sorted(set(range(t0, t_end + 1, freq)) | {t_end})
    assert pruned == expected
    assert schedule(t_end) == (True, pytest.approx(s_f))
    assert schedule(np.int64(t0)) == (True, pytest.approx(s_i))


def test_constant_sparsity_steps():
    forever = ConstantSparsity(0.6, begin_step=5, frequency=4)
    assert [t for t in range(30) if forever(t)[0]] == [5, 9, 13, 17, 21, 25, 29]
    assert all(forever(t)[1] == 0.6 for t in range(30))
    bounded = ConstantSparsity(0.6, begin_step=5, end_step=15, frequency=4)
    assert [t for t in range(30) if bounded(t)[0]] == [5, 9, 13, 15]


@pytest.mark.parametrize(
    "schedule",
    [PolynomialDecay(0.1, 0.7, 10, 200, power=2, frequency=5), ConstantSparsity(0.3)],
)
def test_schedule_config_round_trip(schedule):
    config = schedule.get_config()
    json.dumps(config)
    assert type(schedule).from_config(config).get_config() == config
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(schedule)
    )
    assert type(restored) is type(schedule)
    assert restored.get_config() == config
    assert [restored(t) for t in range(0, 300, 7)] == [
        schedule(t) for t in range(0, 300, 7)
    ]


@pytest.mark.parametrize(
    "make, name, received",
    [
        (lambda: PolynomialDecay(initial_sparsity=-0.1), "initial_sparsity", "-0.1"),
        (lambda: PolynomialDecay(initial_sparsity=1.0), "initial_sparsity", "1.0"),
        (lambda: PolynomialDecay(0.5, final_sparsity=0.4), "final_sparsity", "0.4"),
        (lambda: PolynomialDecay(final_sparsity=1), "final_sparsity", "1"),
        (lambda: PolynomialDecay(begin_step=-1), "begin_step", "-1"),
        (lambda: PolynomialDecay(begin_step=10, end_step=10), "end_step", "10"),
        (lambda: PolynomialDecay(end_step=2.5), "end_step", "2.5"),
        (lambda: PolynomialDecay(power=0), "power", "0"),
        (lambda: PolynomialDecay(frequency=0), "frequency", "0"),
        (lambda: PolynomialDecay()(-3), "step", "-3"),
        (lambda: PolynomialDecay()(1.5), "step", "1.5"),
        (lambda: ConstantSparsity(1.0), "target_sparsity", "1.0"),
        (lambda: ConstantSparsity("0.5"), "target_sparsity", "'0.5'"),
        (lambda: ConstantSparsity(0.5, begin_step=-2), "begin_step", "-2"),
        (lambda: ConstantSparsity(0.5, begin_step=5, end_step=5), "end_step", "5"),
        (lambda: ConstantSparsity(0.5, end_step=-2), "end_step", "-2"),
        (lambda: ConstantSparsity(0.5, frequency=0), "frequency", "0"),
        (lambda: MagnitudePruning(3), "schedule", "3"),
        (lambda: MagnitudePruning(ConstantSparsity(0.5), scope="x"), "scope", "'x'"),
        (
            lambda: MagnitudePruning(ConstantSparsity(0.5), restore_masks_from_zeros=1),
            "restore_masks_from_zeros",
            "1",
        ),
        (lambda: MagnitudePruning(ConstantSparsity(0.5), layers=7), "layers", "7"),
        (lambda: weight_sparsity(mlp(), per_layer="no"), "per_layer", "'no'"),
        (lambda: weight_sparsity(mlp(), layers=["nope"]), "layers", "'nope'"),
        (lambda: strip(keras.layers.Dense(3)), "model", "'Dense'"),
    ],
)
def test_invalid_arguments(make, name, received):
    with pytest.raises(ValueError, match=rf"`{name}`.*Received: {name}={received}"):
        make()


def test_unknown_layer_fails_at_fit():
    model = mlp()
    callback = MagnitudePruning(ConstantSparsity(0.5), layers=["missing"])
    with pytest.raises(ValueError, match=r"`layers`.*Received: layers='missing'"):
        model.fit(X_TRAIN[:64], Y_TRAIN[:64], epochs=1, verbose=0, callbacks=[callback])


# ---------------------------------------------------------------- the callback


def test_polynomial_decay_on_digits_hits_schedule_and_stays_accurate():
    model = mlp()
    schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=80, frequency=10)
    recorder = ScheduledSparsity(schedule)
    stays = StaysZero()
    callback = MagnitudePruning(schedule)
    fit(model, 4, [callback, recorder])
    assert [step for step, _, _ in recorder.records] == list(range(0, 81, 10))
    sizes = [k.size for k in kernels(model)]
    for step, target, zeros in recorder.records:
        for n_zero, size in zip(zeros, sizes, strict=True):
            # Exactly round(s * n) zeros: within half a weight of the schedule.
            assert abs(n_zero - target * size) <= 0.5, (step, target, n_zero, size)
    # Past end_step: no more pruning, but Adam must not revive a pruned weight.
    fit(model, 8, [callback, stays])
    assert stays.checked == 8 * STEPS_PER_EPOCH
    per_layer = weight_sparsity(model, per_layer=True)
    for (name, sparsity), size in zip(per_layer.items(), sizes, strict=True):
        assert sparsity == n_round(0.8, size) / size, name
    assert weight_sparsity(model) == pytest.approx(0.8, abs=1e-3)
    assert callback.step == iterations(model)
    np.testing.assert_array_equal(
        [callback.masks[layer.name] for layer in model.layers][0],
        (kernels(model)[0] != 0).astype("float32"),
    )
    _, accuracy = model.evaluate(X_TEST, Y_TEST, verbose=0)
    print(f"accuracy of the 0.8-sparse MLP on digits: {accuracy:.3f}")
    assert accuracy > 0.85


def test_adam_revives_pruned_weights_without_the_callback():
    # The reason masks are re-applied every step: momentum moves zero weights.
    model = mlp(hidden=(64,))
    fit(model, 1, [MagnitudePruning(ConstantSparsity(0.7, frequency=1000))])
    zero = kernels(model)[0] == 0
    assert zero.mean() == pytest.approx(0.7, abs=1e-3)
    fit(model, 1)
    assert np.mean(kernels(model)[0][zero] != 0) > 0.5
    assert model.layers[0].kernel.constraint is None


def test_global_scope_hits_global_target_with_unequal_layers():
    model = mlp()
    schedule = PolynomialDecay(0.0, 0.75, begin_step=0, end_step=40, frequency=20)
    recorder = ScheduledSparsity(schedule)
    fit(model, 2, [MagnitudePruning(schedule, scope="global"), recorder])
    total = sum(k.size for k in kernels(model))
    for _, target, zeros in recorder.records:
        assert abs(sum(zeros) - target * total) <= 0.5
    per_layer = list(weight_sparsity(model, per_layer=True).values())
    assert weight_sparsity(model) == n_round(0.75, total) / total
    assert max(per_layer) - min(per_layer) > 0.05, per_layer


def test_ties_are_pruned_lowest_index_first_and_layers_by_name_or_object():
    model = mlp(hidden=(4, 4), lr=0.0)
    first, second, last = model.layers
    first.kernel.assign(np.ones((64, 4), "float32"))  # all tied
    ramp = np.arange(1, 17, dtype="float32").reshape(4, 4)
    second.kernel.assign(ramp)
    before = kernels(model)[2]
    callback = MagnitudePruning(ConstantSparsity(0.25), layers=[first, "dense_1"])
    model.fit(X_FIT[:64], Y_FIT[:64], batch_size=64, verbose=0, callbacks=[callback])
    flat = kernels(model)[0].ravel()
    assert np.all(flat[:64] == 0) and np.all(flat[64:] == 1)
    np.testing.assert_array_equal(kernels(model)[1].ravel()[:4], 0)
    np.testing.assert_array_equal(kernels(model)[1].ravel()[4:], ramp.ravel()[4:])
    np.testing.assert_array_equal(kernels(model)[2], before)  # not selected


def test_own_kernel_constraint_still_applies():
    model = mlp(hidden=(64,), kernel_constraint=keras.constraints.NonNeg())
    fit(model, 1, [MagnitudePruning(ConstantSparsity(0.5))])
    kernel = kernels(model)[0]
    assert np.all(kernel >= 0)
    assert np.mean(kernel == 0) >= 0.5
    assert isinstance(model.layers[0].kernel.constraint, keras.constraints.NonNeg)


def test_save_load_resume_and_strip(tmp_path):
    model = mlp(hidden=(64,))
    schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=40, frequency=20)
    fit(model, 1, [MagnitudePruning(schedule)])
    zero_before = [k == 0 for k in kernels(model)]
    path = tmp_path / "pruned.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    for k, zero in zip(kernels(loaded), zero_before, strict=True):
        np.testing.assert_array_equal(k == 0, zero)
    np.testing.assert_allclose(
        loaded.predict(X_TEST, verbose=0), model.predict(X_TEST, verbose=0), atol=1e-5
    )
    assert iterations(loaded) == STEPS_PER_EPOCH
    # Resume: masks come back from the zeros, the schedule from the step count.
    callback = MagnitudePruning(schedule)
    recorder = ScheduledSparsity(schedule)
    fit(loaded, 1, [callback, StaysZero(), recorder])
    assert [step for step, _, _ in recorder.records] == [40]
    for k, zero in zip(kernels(loaded), zero_before, strict=True):
        assert np.all(k[zero] == 0)
        assert np.mean(k == 0) == n_round(0.8, k.size) / k.size

    clean = strip(loaded)
    assert clean is not loaded and clean.optimizer is not loaded.optimizer
    assert iterations(clean) == 0  # a fresh optimizer: no momentum carried
    for a, b in zip(kernels(clean), kernels(loaded), strict=True):
        np.testing.assert_array_equal(a, b)
    clean_path = tmp_path / "clean.keras"
    clean.save(clean_path)
    with zipfile.ZipFile(clean_path) as archive:
        config = archive.read("config.json").decode()
        assert "sparsekit" not in config
    reloaded = keras.saving.load_model(clean_path)
    assert weight_sparsity(reloaded) == weight_sparsity(loaded)
    np.testing.assert_allclose(
        reloaded.predict(X_TEST, verbose=0),
        loaded.predict(X_TEST, verbose=0),
        atol=1e-5,
    )


def test_two_replicas():
    schedule = ConstantSparsity(0.6, frequency=10)
    if JAX:
        import jax

        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=jax.devices("cpu")[:2])
        )
        model = mlp(hidden=(64,))
    else:
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            model = mlp(hidden=(64,))
    fit(model, 2, [MagnitudePruning(schedule), StaysZero()])
    for layer in model.layers:
        kernel = to_numpy(layer.kernel)
        assert np.sum(kernel == 0) == n_round(0.6, kernel.size)
        for copy in getattr(layer.kernel.value, "values", ()):  # TF mirrored copies
            np.testing.assert_array_equal(np.asarray(copy), kernel)


def test_weight_sparsity_selection():
    model = mlp(hidden=(8,))
    model.layers[0].kernel.assign(np.zeros((64, 8), "float32"))
    assert weight_sparsity(model, layers=["dense"]) == 1.0
    assert weight_sparsity(model, per_layer=True) == {"dense": 1.0, "dense_1": 0.0}
    assert weight_sparsity(model) == 512 / (512 + 80)


def test_overhead_of_pruned_fit_is_printed():
    """Times a pruned fit against a plain fit of a fresh model (printed only)."""
    times = {}
    for name, callbacks in [
        ("plain", []),
        ("pruned", [MagnitudePruning(PolynomialDecay(0.0, 0.8, 0, 100, frequency=20))]),
        ("plain again", []),
    ]:
        keras.utils.set_random_seed(0)
        model = mlp(hidden=(64,))
        start = time.perf_counter()
        fit(model, 6, callbacks)
        times[name] = time.perf_counter() - start
        if callbacks:
            assert weight_sparsity(model) == pytest.approx(0.8, abs=1e-3)
    plain = min(times["plain"], times["plain again"])
    print(
        f"{keras.backend.backend()}: 6 epochs, compile included: plain {plain:.2f}s, "
        f"pruned {times['pruned']:.2f}s, ratio {times['pruned'] / plain:.2f}"
    )
