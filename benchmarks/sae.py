"""Row: one sparse-autoencoder training step against a plain Dense autoencoder's."""

from __future__ import annotations

import keras
import numpy as np

import sparsekit as sk
from benchmarks._timing import Row, Spec, block, interleaved

FEATURES, LATENTS, K, BATCH = 128, 1024, 32, 256


def _dense_autoencoder() -> keras.Model:
    # The same two matrices, ReLU instead of TopK and no SAE extras.
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(LATENTS, activation="relu"),
            keras.layers.Dense(FEATURES),
        ]
    )
    model.compile(keras.optimizers.Adam(1e-3), loss="mse")
    return model


def _sae(aux_k: int | None) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = sk.sae.SparseAutoencoder(LATENTS, "topk", k=K, aux_k=aux_k, seed=0)
    model.compile(keras.optimizers.Adam(1e-3))
    return model


def _steps(model: keras.Model, x: np.ndarray, target, steps: int):
    # Both go through Keras' own compiled train_step, so per-call dispatch is alike.
    model.train_on_batch(x, target)

    def run():
        for _ in range(steps):
            loss = model.train_on_batch(x, target)
        return block(loss)

    return run


def _measure_for(aux_k: int | None):
    def measure(row: Row, quick: bool) -> None:
        data = sk.datasets.superposition(4 * FEATURES, FEATURES, 0.02, BATCH, seed=0)
        x = data.x
        steps = 5 if quick else 25
        rounds = 3 if quick else 7
        sae = _steps(_sae(aux_k), x, None, steps)
        dense = _steps(_dense_autoencoder(), x, x, steps)
        result = interleaved({"sk": sae, "base": dense}, rounds, per_call=steps)
        row.record(
            result,
            steps_per_call=steps,
            rounds=rounds,
            model=f"{FEATURES}-{LATENTS}(TopK k={K}, aux_k={aux_k})-{FEATURES}",
            work=(BATCH, "samples"),
        )

    return measure


SPECS = [
    Spec(
        key,
        Row(
            name=f"SAE train step{label}, {FEATURES}->{LATENTS}, batch {BATCH}",
            baseline_name="Dense autoencoder train step",
            kind="time",
            target=1.30,
        ),
        _measure_for(aux_k),
    )
    for key, label, aux_k in (
        ("sae-train", "", None),
        ("sae-train-auxk", " + AuxK", 256),
    )
]
