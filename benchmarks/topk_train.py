"""Row: a training step through `sk.layers.TopK` against a ReLU layer."""

from __future__ import annotations

import keras
import numpy as np

import sparsekit as sk
from benchmarks._timing import Row, Spec, interleaved, train_step_loop

UNITS, K, BATCH, INPUTS, OUTPUTS = 1024, 64, 256, 784, 10


def _model(sparse: bool) -> keras.Model:
    # Same weights and shapes; only the nonlinearity differs.
    keras.utils.set_random_seed(0)
    hidden = (
        [keras.layers.Dense(UNITS), sk.layers.TopK(k=K)]
        if sparse
        else [keras.layers.Dense(UNITS, activation="relu")]
    )
    return keras.Sequential(
        [keras.Input((INPUTS,)), *hidden, keras.layers.Dense(OUTPUTS)]
    )


def _measure(row: Row, quick: bool) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, INPUTS)).astype("float32")
    y = rng.normal(size=(BATCH, OUTPUTS)).astype("float32")
    steps = 5 if quick else 25
    rounds = 3 if quick else 7
    topk = train_step_loop(_model(True), x, y, steps)
    relu = train_step_loop(_model(False), x, y, steps)
    result = interleaved({"sk": topk, "base": relu}, rounds, per_call=steps)
    row.record(
        result,
        steps_per_call=steps,
        rounds=rounds,
        model=f"{INPUTS}-{UNITS}(TopK k={K} | ReLU)-{OUTPUTS}, SGD, MSE",
        work=(BATCH, "samples"),
    )


SPECS = [
    Spec(
        "topk-train",
        Row(
            name=f"TopK train step, {UNITS} units, batch {BATCH}",
            baseline_name="ReLU Dense train step",
            kind="time",
            target=1.10,
        ),
        _measure,
    )
]
