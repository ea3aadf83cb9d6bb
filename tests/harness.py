"""The shared harness every sparsekit layer and regulariser goes through.

A `Case` builds a fresh layer (for a regulariser: a Dense layer that uses it). The
`LayerHarness` class runs the same five checks on each case: config round trip,
`.keras` save/load with identical predictions, a fit step, mixed precision and
training with two data-parallel replicas.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

BATCH = 16


@dataclass
class Case:
    """One object under test.

    Attributes:
        id: test id shown by pytest.
        make: builds a fresh layer each time it is called.
        input_shape: per-sample input shape.
        target: the object whose config must round-trip (defaults to the layer).
        data: builds `(x, y)`; `y` defaults to a regression target of the output shape.
    """

    id: str
    make: Callable[[], keras.layers.Layer]
    input_shape: tuple[int, ...]
    target: Callable[[keras.layers.Layer], object] = lambda layer: layer
    data: Callable[[int], np.ndarray] | None = None
    covers: tuple[type, ...] = field(default_factory=tuple)


def regularizer_case(
    id: str, make_regularizer, *, on: str = "activity", units: int = 12
):
    """A case for a regulariser applied to a Dense layer's activity or kernel."""

    def make():
        kwargs = {f"{on}_regularizer": make_regularizer()}
        return keras.layers.Dense(units, activation="relu", **kwargs)

    return Case(
        id=id,
        make=make,
        input_shape=(10,),
        target=lambda layer: getattr(layer, f"{on}_regularizer"),
    )


def _inputs(case: Case, n: int = 64, seed: int = 0) -> np.ndarray:
    if case.data is not None:
        return case.data(n)
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, *case.input_shape)).astype("float32")


def _model(case: Case) -> tuple[keras.Model, keras.layers.Layer]:
    layer = case.make()
    inputs = keras.Input(case.input_shape)
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(layer(inputs)))
    return keras.Model(inputs, outputs), layer


def _fit(model: keras.Model, x: np.ndarray, epochs: int = 1) -> float:
    y = np.random.default_rng(1).normal(size=(len(x), 3)).astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    history = model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0)
    return history.history["loss"][-1]


class LayerHarness:
    """Subclass with `cases = [Case(...), ...]`; conftest parametrises the tests."""

    cases: list[Case] = []

    def test_config_round_trip(self, case):
        layer = case.make()
        layer.build((None, *case.input_shape))
        obj = case.target(layer)
        config = obj.get_config()
        json.dumps(config)  # plain values only
        clone = type(obj).from_config(config)
        assert clone.get_config() == config
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(obj)
        )
        assert type(restored) is type(obj)
        assert restored.get_config() == config

    def test_save_load_same_predictions(self, case, tmp_path):
        model, _ = _model(case)
        x = _inputs(case)
        _fit(model, x)
        path = tmp_path / "model.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        expected = model.predict(x, verbose=0)
        np.testing.assert_allclose(
            loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6
        )

    def test_fit_step_updates_weights(self, case):
        model, _ = _model(case)
        x = _inputs(case)
        before = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
        loss = _fit(model, x)
        assert np.isfinite(loss)
        changed = [
            not np.array_equal(b, keras.ops.convert_to_numpy(w))
            for b, w in zip(before, model.trainable_weights, strict=True)
        ]
        assert all(changed), "every trainable weight should receive a gradient"

    def test_mixed_precision(self, case):
        keras.config.set_dtype_policy("mixed_bfloat16")
        model, layer = _model(case)
        x = _inputs(case)
        assert np.isfinite(_fit(model, x))
        out = layer(keras.ops.convert_to_tensor(x[:4]))
        assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
        for weight in layer.trainable_weights:
            assert weight.dtype == "float32"

    def test_two_replicas(self, case):
        x = _inputs(case)
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            # ReductionToOneDevice: the default collective ops reuse instance keys
            # across strategies in one process and fail on the second model.
            strategy = tf.distribute.MirroredStrategy(
                ["/cpu:0", "/cpu:1"],
                cross_device_ops=tf.distribute.ReductionToOneDevice(),
            )
            assert strategy.num_replicas_in_sync == 2
            with strategy.scope():
                model, _ = _model(case)
                loss = _fit(model, x, epochs=2)
        elif backend == "jax":
            import jax

            devices = jax.devices("cpu")
            assert len(devices) >= 2, "conftest sets XLA_FLAGS for two host devices"
            keras.distribution.set_distribution(
                keras.distribution.DataParallel(devices=devices[:2])
            )
            model, _ = _model(case)
            loss = _fit(model, x, epochs=2)
        else:
            raise AssertionError(f"no data-parallel check for backend {backend}")
        assert np.isfinite(loss)
