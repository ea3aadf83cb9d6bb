"""Row: `fit` with the `sk.pruning.MagnitudePruning` callback against plain `fit`."""

from __future__ import annotations

import keras
import numpy as np

import sparsekit as sk
from benchmarks._timing import Row, Spec, interleaved

EPOCHS, BATCH = 5, 64


def _data(n: int):
    x, y = _digits()
    reps = -(-n // len(x))
    return np.tile(x, (reps, 1))[:n], np.tile(y, reps)[:n]


def _digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype("float32"), y.astype("int32")


def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _measure(row: Row, quick: bool) -> None:
    n = 1_797 if quick else 7_168
    x, y = _data(n)
    steps = -(-n // BATCH) * EPOCHS
    schedule = sk.pruning.PolynomialDecay(
        initial_sparsity=0.0,
        final_sparsity=0.8,
        begin_step=0,
        end_step=steps,
        frequency=max(1, steps // 10),
    )

    def run(pruned: bool):
        def go():
            model = _model()
            callbacks = [sk.pruning.MagnitudePruning(schedule)] if pruned else []
            model.fit(
                x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0, callbacks=callbacks
            )
            return model

        return go

    model = run(True)()  # warm up both (tracing, allocator) before timing
    run(False)()
    rounds = 2 if quick else 4
    result = interleaved({"sk": run(True), "base": run(False)}, rounds)
    row.record(
        result,
        model="64-512-512-10 MLP, Adam, digits tiled",
        samples=n,
        epochs=EPOCHS,
        steps=steps,
        final_weight_sparsity=_plain(sk.pruning.weight_sparsity(model)),
        rounds=rounds,
        work=(n * EPOCHS, "samples"),
        note="each timed run builds and compiles a fresh model (both sides)",
    )


def _plain(value):
    if isinstance(value, dict):
        return {str(k): float(v) for k, v in value.items()}
    return float(value)


SPECS = [
    Spec(
        "pruning",
        Row(
            name="MagnitudePruning fit (PolynomialDecay 0->0.8)",
            baseline_name="plain fit",
            kind="time",
            target=1.10,
        ),
        _measure,
    )
]
