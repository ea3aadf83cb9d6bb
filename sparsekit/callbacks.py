"""Keras callbacks that watch (SparsityMonitor) or steer (BoostDecay) sparsity."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from sparsekit import metrics as _metrics
from sparsekit._validation import check_float, check_int, invalid_argument
from sparsekit.boost_decay import BoostDecay

__all__ = ["BoostDecay", "SparsityMonitor"]


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], -1)


def _model_inputs(model: keras.Model) -> Any:
    """The model's symbolic inputs in their original structure (dict, list, one)."""
    try:
        return model.input  # Functional: keeps a dict or nested structure
    except (AttributeError, ValueError):
        inputs = model.inputs  # Sequential: a list of one input
        return inputs[0] if len(inputs) == 1 else inputs


# Each reducer maps (activations of shape (n_samples, ...), threshold) to a float.
_REDUCERS: dict[str, Callable[[np.ndarray, float], float]] = {
    "activation_sparsity": lambda a, t: _metrics.activation_sparsity(a, t),
    "l0": lambda a, t: float(np.mean(_metrics.l0(_flat(a), axis=1))),
    "hoyer": lambda a, t: float(np.mean(_metrics.hoyer(_flat(a), axis=1))),
    "gini": lambda a, t: float(np.mean(_metrics.gini(_flat(a), axis=1))),
    "dead_units": lambda a, t: _metrics.dead_units(a, t),
    "lifetime_sparsity": lambda a, t: float(np.mean(_metrics.lifetime_sparsity(a))),
    "population_sparsity": lambda a, t: float(np.mean(_metrics.population_sparsity(a))),
}
DEFAULT_METRICS = (
    "activation_sparsity",
    "hoyer",
    "dead_units",
    "lifetime_sparsity",
    "population_sparsity",
)


class SparsityMonitor(keras.callbacks.Callback):
    """Records sparsity metrics of chosen layers' activations during training.

    At the end of every `every`-th epoch (epochs 0, every, 2*every, ...) the inputs
    `data` are run through a sub-model that outputs the activations of `layers`
    (built once per `fit`, sharing the model's weights, in inference mode), and one
    number per layer and metric is appended to
    `history[layer_name][metric_name]`; `epochs` lists the epochs recorded.
    The same numbers go into that epoch's `logs` as `"<layer_name>/<metric_name>"`
    (e.g. `"hidden/hoyer"`), so the callbacks after this one in `callbacks`
    (`keras.callbacks.History`, `CSVLogger`, `TensorBoard`, `EarlyStopping`)
    see them like the loss; epochs skipped by `every` have no such entries.

    Metric names and the number each records (activations `a` of shape
    `(n_samples, ...)`, non-sample axes flattened into units; see
    `sparsekit.metrics` for the formulas):

    - `"activation_sparsity"`: fraction of entries with `|a| <= threshold`.
    - `"l0"`: mean number of nonzero units per sample.
    - `"hoyer"`, `"gini"`: mean over samples of the per-sample measure.
    - `"dead_units"`: fraction of units with `|a| <= threshold` on every sample.
    - `"lifetime_sparsity"`: mean over units of the Treves–Rolls selectivity.
    - `"population_sparsity"`: mean over samples of the Treves–Rolls sparseness.

    A callable `fn(activations) -> float` may be given instead of a name; it is
    recorded under `fn.__name__`. History accumulates over several `fit` calls on
    the same model and restarts when the monitor is used with another model.

    Args:
        layers: str, `keras.layers.Layer`, or a sequence of them: names or layer
            objects of the (Functional or Sequential) model being trained.
        data: model inputs to measure on: an array, a list or dict of arrays for
            several inputs, or an `(x, y)` / `(x, y, sample_weight)` tuple whose
            `x` is used.
        metrics: sequence of metric names (above) or callables. Defaults to `None`
            (`activation_sparsity`, `hoyer`, `dead_units`, `lifetime_sparsity`,
            `population_sparsity`).
        threshold: float >= 0, magnitude at or below which an activation counts as
            inactive (used by `activation_sparsity` and `dead_units`). Defaults to
            `0.0`.
        every: int >= 1, record every `every` epochs. Defaults to `1`.
        batch_size: int >= 1, batch size of the measuring pass. Defaults to `256`.

    Example:

    >>> monitor = SparsityMonitor(["hidden"], x_test)
    >>> model.fit(x_train, y_train, epochs=5, callbacks=[monitor])
    >>> monitor.history["hidden"]["hoyer"]  # five floats
    >>> model.history.history["hidden/hoyer"]  # the same five floats
    >>> fig = monitor.plot()
    """

    def __init__(
        self,
        layers: str | keras.layers.Layer | Sequence[str | keras.layers.Layer],
        data: Any,
        metrics: Sequence[str | Callable[[np.ndarray], float]] | None = None,
        threshold: float = 0.0,
        every: int = 1,
        batch_size: int = 256,
    ) -> None:
        super().__init__()
        if isinstance(layers, (str, keras.layers.Layer)):
            layers = [layers]
        ok = isinstance(layers, Sequence) and len(layers) > 0
        if not ok or not all(
            isinstance(item, (str, keras.layers.Layer)) for item in layers
        ):
            expected = "a layer name, a layer, or a non-empty list of them"
            raise invalid_argument("layers", expected, layers)
        self._layer_specs = list(layers)
        if isinstance(data, tuple) and len(data) in (2, 3):
            data = data[0]
        if data is None:
            raise invalid_argument("data", "model inputs (or an (x, y) tuple)", data)
        self.data = data
        self.metric_fns = self._resolve_metrics(metrics)
        self.threshold = check_float("threshold", threshold, low=0.0)
        self.every = check_int("every", every, low=1)
        self.batch_size = check_int("batch_size", batch_size, low=1)
        self.history: dict[str, dict[str, list[float]]] = {}
        self.epochs: list[int] = []
        self._submodel: keras.Model | None = None
        self._layer_names: list[str] = []
        self._monitored_model: keras.Model | None = None

    @staticmethod
    def _resolve_metrics(metrics: Any) -> dict[str, Callable[[np.ndarray], float]]:
        if metrics is None:
            metrics = DEFAULT_METRICS
        if isinstance(metrics, str) or not isinstance(metrics, Sequence) or not metrics:
            expected = f"a non-empty list of callables or names from {tuple(_REDUCERS)}"
            raise invalid_argument("metrics", expected, metrics)
        resolved: dict[str, Callable[[np.ndarray], float]] = {}
        for item in metrics:
            if isinstance(item, str) and item in _REDUCERS:
                reducer = _REDUCERS[item]
                resolved[item] = lambda a, t, reducer=reducer: reducer(a, t)
            elif callable(item) and not isinstance(item, str):
                name = getattr(item, "__name__", type(item).__name__)
                resolved[name] = lambda a, t, fn=item: float(fn(a))
            else:
                expected = f"callables or names from {tuple(_REDUCERS)}"
                raise invalid_argument("metrics", expected, item)
        return resolved

    def _resolve_layers(self, model: keras.Model) -> list[keras.layers.Layer]:
        available = [layer.name for layer in model.layers]
        resolved = []
        for spec in self._layer_specs:
            if isinstance(spec, str):
                found = [layer for layer in model.layers if layer.name == spec]
            else:
                found = [layer for layer in model.layers if layer is spec]
            if not found:
                expected = f"names or layers of the model being trained, {available}"
                received = spec if isinstance(spec, str) else spec.name
                raise invalid_argument("layers", expected, received)
            resolved.append(found[0])
        return resolved

    def on_train_begin(self, logs: dict | None = None) -> None:
        model = self.model
        layers = self._resolve_layers(model)
        try:
            outputs = [layer.output for layer in layers]
            self._submodel = keras.Model(_model_inputs(model), outputs)
        except (AttributeError, ValueError) as error:
            raise ValueError(
                "SparsityMonitor needs a Functional or Sequential model with known "
                "inputs whose monitored layers are each called once (their `.output` "
                f"must exist). Received model: {model.name!r}. Original error: {error}"
            ) from error
        if model is not self._monitored_model:
            self.history, self.epochs = {}, []
            self._monitored_model = model
        self._layer_names = [layer.name for layer in layers]
        for name in self._layer_names:
            per_layer = self.history.setdefault(name, {})
            for metric in self.metric_fns:
                per_layer.setdefault(metric, [])

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if epoch % self.every == 0:
            values = self.record(epoch)
            if logs is not None:  # Keras hands the same dict to later callbacks
                logs.update(values)

    def record(self, epoch: int) -> dict[str, float]:
        """Measures the monitored layers now and appends one value per metric.

        Args:
            epoch: int, the epoch number stored in `epochs`.

        Returns:
            A dict of the values just recorded, keyed `"<layer>/<metric>"`
            (what `on_epoch_end` writes into the epoch's `logs`).
        """
        if self._submodel is None:
            raise RuntimeError("SparsityMonitor.record() called before training.")
        outputs = self._submodel.predict(
            self.data, batch_size=self.batch_size, verbose=0
        )
        if len(self._layer_names) == 1:
            outputs = [outputs]
        values = {}
        for name, activations in zip(self._layer_names, outputs, strict=True):
            activations = np.asarray(activations, dtype=np.float64)
            for metric, fn in self.metric_fns.items():
                value = fn(activations, self.threshold)
                self.history[name][metric].append(value)
                values[f"{name}/{metric}"] = value
        self.epochs.append(int(epoch))
        return values

    def plot(self, metrics: Sequence[str] | None = None) -> Any:
        """Plots the recorded history with `sparsekit.plot.sparsity_history`.

        Args:
            metrics: sequence of metric names to plot. Defaults to `None` (all).

        Returns:
            A matplotlib Figure, one panel per metric and one line per layer.
        """
        from sparsekit import plot

        return plot.sparsity_history(self.history, metrics, epochs=self.epochs)
