"""Magnitude pruning for Keras 3 (tfmot's pruning does not support Keras 3)."""

from sparsekit.pruning.callback import MagnitudePruning
from sparsekit.pruning.schedules import (
    ConstantSparsity,
    PolynomialDecay,
    PruningSchedule,
)
from sparsekit.pruning.utils import strip, weight_sparsity

__all__ = [
    "ConstantSparsity",
    "MagnitudePruning",
    "PolynomialDecay",
    "PruningSchedule",
    "strip",
    "weight_sparsity",
]
