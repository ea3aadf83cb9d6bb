"""Sparse autoencoders: dictionaries of sparse latents learned from activations."""

from sparsekit.sae.median import geometric_median
from sparsekit.sae.model import SparseAutoencoder

__all__ = ["SparseAutoencoder", "geometric_median"]
