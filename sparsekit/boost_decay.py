"""BoostDecay: shrink the boost strength of `KWinners` layers after every epoch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from sparsekit._validation import check_float, invalid_argument
from sparsekit.layers.kwinners import KWinners

__all__ = ["BoostDecay"]


def _kwinners_layers(model: keras.Model) -> list[KWinners]:
    """Every `KWinners` layer of `model`, nested models included, in order."""
    found, stack = [], list(reversed(model.layers))
    while stack:
        layer = stack.pop()
        if isinstance(layer, KWinners):
            found.append(layer)
        elif hasattr(layer, "layers"):
            stack.extend(reversed(layer.layers))
    return found


class BoostDecay(keras.callbacks.Callback):
    """Multiplies the `boost_strength` of `KWinners` layers by `factor` per epoch.

    Ahmad & Scheinkman (2019) start with a strong boost, so that every unit wins
    early on, and shrink it after each epoch (`boost_strength_factor` in
    `nupic.torch`: 0.85 in the paper's networks, 0.9 in its MLP tutorial), so
    that late in training the winners are chosen almost on the raw values, as at
    inference. Epoch `e` (from 0) trains with `boost_strength * factor**e`; after
    training each layer's `boost_strength` attribute holds the next value, which
    inference uses when the layer boosts there (`boost_inference=True`) and which
    `get_config` saves.

    `KWinners` reads `boost_strength` as a Python number, which a compiled
    training step would freeze. On TensorFlow the callback therefore lets the
    layers read it from a variable while `fit` runs (one trace); on other
    backends it rebuilds the training function after each epoch (one trace per
    epoch).

    Args:
        factor: float in `[0, 1]`, the factor applied after every epoch.
        layers: sequence of `KWinners` layers to decay, or `None` for every
            `KWinners` layer of the model (nested models included). Defaults to
            `None`.

    Example:

    >>> winners = sk.layers.KWinners(2, boost_strength=1.0)
    >>> model = keras.Sequential([keras.Input((6,)), winners, keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> _ = model.fit(np.ones((8, 6)), np.ones(8), epochs=3, verbose=0,
    ...               callbacks=[BoostDecay(0.5)])
    >>> winners.boost_strength  # 1.0 * 0.5**3
    0.125
    """

    def __init__(self, factor: float, layers: Sequence[KWinners] | None = None):
        super().__init__()
        self.factor = check_float("factor", factor, low=0.0, high=1.0)
        if layers is not None:
            layers = list(layers)
            bad = [layer for layer in layers if not isinstance(layer, KWinners)]
            if bad or not layers:
                raise invalid_argument(
                    "layers", "None or a non-empty sequence of KWinners layers", bad
                )
        self._chosen = layers
        self._variables: dict[KWinners, Any] = {}

    def on_train_begin(self, logs=None):
        layers = self._chosen
        if layers is None:
            layers = _kwinners_layers(self.model)
        self._layers = layers
        self._variables = {}
        if keras.backend.backend() == "tensorflow":
            for layer in layers:
                strength = keras.Variable(
                    layer.boost_strength, trainable=False, dtype="float32"
                )
                self._variables[layer] = strength
                layer.boost = _variable_boost(layer, strength)
        # A training step traced before (an earlier fit) froze the old strength.
        self.model.make_train_function(force=True)

    def on_epoch_end(self, epoch, logs=None):
        for layer in self._layers:
            layer.boost_strength = layer.boost_strength * self.factor
            if layer in self._variables:
                self._variables[layer].assign(layer.boost_strength)
        if not self._variables:
            self.model.make_train_function(force=True)

    def on_train_end(self, logs=None):
        for layer in self._variables:
            del layer.boost  # back to the class's method, reading the float
        self._variables = {}
        # Later fits without this callback must not read the dropped variables.
        self.model.make_train_function(force=True)


def _variable_boost(layer: KWinners, strength: Any):
    """`layer.boost` with the boost strength read from the variable `strength`."""

    def boost():
        target = layer.k / layer.units
        return ops.exp(ops.cast(strength, "float32") * (target - layer.duty_cycle))

    return boost
