"""Keras layers that produce or exploit sparse activations."""

from sparsekit.layers.kwinners import KWinners
from sparsekit.layers.lista import LISTA
from sparsekit.layers.sparse_dense import SparseDense
from sparsekit.layers.topk import TopK
from sparsekit.layers.topk_dense import TopKDense

__all__ = ["TopK", "KWinners", "SparseDense", "LISTA", "TopKDense"]
