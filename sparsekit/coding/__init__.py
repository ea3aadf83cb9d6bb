"""Sparse coding: proximal solvers, OMP and dictionary learning.

Shapes follow scikit-learn: x `(n_samples, n_features)`, dictionary
`(n_atoms, n_features)`, codes `(n_samples, n_atoms)`.
"""

from sparsekit.coding.proximal import soft_threshold, ista, fista
from sparsekit.coding.omp import omp
from sparsekit.coding.dictionary import DictionaryLearning

__all__ = ["soft_threshold", "ista", "fista", "omp", "DictionaryLearning"]
