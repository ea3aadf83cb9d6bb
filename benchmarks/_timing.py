"""Benchmark rows, machine info and train-step loops on `sk.timing`'s primitives.

Every row times sparsekit and its baseline in the same process, alternating
between the two in each round, and keeps the minimum per side (the least
disturbed run on a shared machine) next to the median.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import keras
import numpy as np

# The timing primitives are public (the book times with them too).
from sparsekit.timing import block, compiled_repeat, interleaved


class NotAvailable(Exception):
    """Raised by a row whose sparsekit function or baseline is missing."""


@dataclass
class Row:
    """One line of the table.

    `sparsekit` and `baseline` are seconds per unit of work. `kind` says how
    `ratio` reads: `"time"` is sparsekit/baseline (lower is better, target is a
    maximum), `"speedup"` is baseline/sparsekit (higher is better, target is a
    minimum).
    """

    name: str
    baseline_name: str
    kind: str  # "time" or "speedup"
    target: float
    sparsekit: float | None = None
    baseline: float | None = None
    unit: str = "s"
    notes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.sparsekit is None or self.baseline is None:
            return None
        if self.kind == "time":
            return self.sparsekit / self.baseline
        return self.baseline / self.sparsekit

    @property
    def met(self) -> bool | None:
        ratio = self.ratio
        if ratio is None:
            return None
        return ratio <= self.target if self.kind == "time" else ratio >= self.target

    def target_text(self) -> str:
        if self.kind == "time":
            return f"<= {self.target:.2f}x time"
        return f">= {self.target:g}x faster"

    def record(
        self,
        result: dict[str, dict[str, float]],
        *,
        work: tuple[float, str] | None = None,
        **notes: Any,
    ) -> None:
        """Takes the best times of an `interleaved` run with keys "sk"/"base".

        `work=(amount, unit)`, the work of one timed call, adds sparsekit's
        throughput to the notes.
        """
        self.sparsekit, self.baseline = result["sk"]["min"], result["base"]["min"]
        medians = {
            "sparsekit": result["sk"]["median"],
            "baseline": result["base"]["median"],
        }
        self.notes = {"median_s": medians, **notes}
        if work is not None:
            amount, unit = work
            self.notes["throughput"] = f"{amount / self.sparsekit:,.0f} {unit}/s"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "met": self.met}


def empty_call_overhead(repeats: int, rounds: int) -> dict[str, float]:
    """Seconds per iteration of `compiled_repeat` with a trivial body, and per call."""
    x = np.ones((1, 1), "float32")
    loop = compiled_repeat(lambda a: a * 2.0, (x,), repeats)
    single = compiled_repeat(lambda a: a * 2.0, (x,), 1)
    result = interleaved({"loop": loop}, rounds, per_call=repeats)["loop"]
    call = interleaved({"call": single}, rounds)["call"]
    return {"per_iteration": result["min"], "per_call": call["min"]}


def machine_info(device: str) -> dict[str, Any]:
    """Backend, device, CPU count, versions and load: what the numbers depend on."""
    import sparsekit

    try:
        import sklearn

        sklearn_version = sklearn.__version__
    except ImportError:
        sklearn_version = None

    backend = keras.backend.backend()
    info: dict[str, Any] = {
        "backend": backend,
        "device_requested": device,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "keras": keras.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn_version,
        "sparsekit": sparsekit.__version__,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if backend == "tensorflow":
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
        gpus = tf.config.list_logical_devices("GPU")
        info["devices"] = [d.name for d in gpus] or ["CPU"]
    elif backend == "jax":
        import jax

        info["jax"] = jax.__version__
        info["devices"] = [str(d) for d in jax.devices()]
    return info


def train_step_loop(model: keras.Model, x: Any, y: Any, steps: int) -> Callable:
    """A callable running `steps` SGD train steps (MSE) in one compiled function."""
    backend = keras.backend.backend()
    optimizer = keras.optimizers.SGD(1e-3)
    loss_fn = keras.losses.MeanSquaredError()
    model(x[:1])
    optimizer.build(model.trainable_variables)
    x = keras.ops.convert_to_tensor(x)
    y = keras.ops.convert_to_tensor(y)
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def loop():
            for _ in tf.range(steps):
                with tf.GradientTape() as tape:
                    loss = loss_fn(y, model(x, training=True))
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply(grads, model.trainable_variables)
            return loss

        def run():
            return block(loop())

    elif backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        frozen = [v.value for v in model.non_trainable_variables]
        opt_vars = [v.value for v in optimizer.variables]

        def loss_of(trainable, frozen):
            out, frozen = model.stateless_call(trainable, frozen, x, training=True)
            return loss_fn(y, out), frozen

        grad_fn = jax.value_and_grad(loss_of, has_aux=True)

        @jax.jit
        def loop(state):
            def body(_, state):
                trainable, frozen, opt_vars, _loss = state
                (loss, frozen), grads = grad_fn(trainable, frozen)
                trainable, opt_vars = optimizer.stateless_apply(
                    opt_vars, grads, trainable
                )
                return trainable, frozen, opt_vars, loss

            return jax.lax.fori_loop(0, steps, body, state)

        state = (trainable, frozen, opt_vars, jax.numpy.zeros(()))

        def run():
            return block(loop(state)[3])

    else:
        raise NotAvailable(f"no train loop for backend {backend}")
    run()  # compile outside the timed rounds
    return run


@dataclass
class Spec:
    """A row to measure: `measure(row, quick)` fills in `row` in place."""

    key: str
    template: Row
    measure: Callable[[Row, bool], None]
