"""Rows: `sk.ops.sparse_dense_matmul` against the dense product it replaces."""

from __future__ import annotations

import keras
import numpy as np

import sparsekit as sk
from benchmarks._timing import (
    Row,
    Spec,
    compiled_repeat,
    empty_call_overhead,
    interleaved,
)

N = M = 4096
K = 128


def _problem(batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, N)).astype("float32")
    kernel = (rng.normal(size=(N, M)) / np.sqrt(N)).astype("float32")
    values, indices = keras.ops.top_k(x, K)
    values = keras.ops.convert_to_numpy(values)
    indices = keras.ops.convert_to_numpy(indices)
    # The baseline multiplies the same activations, zeros included.
    dense = np.zeros_like(x)
    np.put_along_axis(dense, indices, values, axis=1)
    return values, indices, dense, kernel


def _template(batch: int, target: float) -> Row:
    return Row(
        name=f"sparse_dense_matmul {N}->{M}, k={K}, batch {batch}",
        baseline_name="dense matmul (top-k zeros kept)",
        kind="speedup",
        target=target,
    )


def _measure(row: Row, batch: int, quick: bool) -> None:
    values, indices, dense, kernel = _problem(batch)
    # Enough loop iterations that one call takes ~0.1-1 s on a laptop CPU.
    repeats = (50 if batch == 1 else 5) if quick else (400 if batch == 1 else 30)
    rounds = 3 if quick else 7
    sparse = compiled_repeat(
        sk.ops.sparse_dense_matmul, (values, indices, kernel), repeats
    )
    baseline = compiled_repeat(keras.ops.matmul, (dense, kernel), repeats)
    result = interleaved({"sk": sparse, "base": baseline}, rounds, per_call=repeats)
    overhead = empty_call_overhead(repeats, rounds)
    row.record(
        result,
        loop_repeats=repeats,
        rounds=rounds,
        empty_loop_iteration_s=overhead["per_iteration"],
        empty_call_s=overhead["per_call"],
        work=(batch, "samples"),
        bound=f"N/k = {N // K}x fewer multiply-adds",
    )


SPECS = [
    Spec("matmul-b1", _template(1, 30.0), lambda row, q: _measure(row, 1, q)),
    Spec("matmul-b64", _template(64, 8.0), lambda row, q: _measure(row, 64, q)),
]
