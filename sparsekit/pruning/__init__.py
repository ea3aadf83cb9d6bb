"""Magnitude pruning for Keras 3 (tfmot's pruning does not support Keras 3).
"""

from sparsekit.pruning.schedules import PolynomialDecay, ConstantSparsity
from sparsekit.pruning.callback import MagnitudePruning
from sparsekit.pruning.utils import weight_sparsity, strip

__all__ = ["PolynomialDecay", "ConstantSparsity", "MagnitudePruning", "weight_sparsity", "strip"]
