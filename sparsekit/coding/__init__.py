"""Sparse coding: proximal solvers, OMP and dictionary learning.

Shapes follow scikit-learn: x `(n_samples, n_features)`, dictionary
`(n_atoms, n_features)`, codes `(n_samples, n_atoms)`.
"""

from sparsekit.coding.dictionary import DictionaryLearning
from sparsekit.coding.omp import omp
from sparsekit.coding.proximal import fista, ista, lasso_objective, soft_threshold

__all__ = [
    "soft_threshold",
    "lasso_objective",
    "ista",
    "fista",
    "omp",
    "DictionaryLearning",
]
