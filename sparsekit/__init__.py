"""sparsekit: sparse activations, sparse coding, pruning and metrics for Keras 3.

Example:

>>> import sparsekit as sk
>>> layer = sk.layers.TopK(k=8)
"""

from sparsekit import (
    callbacks,
    coding,
    datasets,
    dropout,
    layers,
    metrics,
    ops,
    plot,
    pruning,
    regularizers,
    robustness,
    sae,
    stats,
    timing,
)
from sparsekit._version import __version__

__all__ = [
    "__version__",
    "callbacks",
    "coding",
    "datasets",
    "dropout",
    "layers",
    "metrics",
    "ops",
    "plot",
    "pruning",
    "regularizers",
    "robustness",
    "sae",
    "stats",
    "timing",
]
