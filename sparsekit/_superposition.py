"""Synthetic superposed data: many sparse features embedded in few dimensions."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from sparsekit._validation import check_float, check_int, invalid_argument


class Superposition(NamedTuple):
    """What `sk.datasets.superposition` returns: the data and its ground truth."""

    x: np.ndarray
    directions: np.ndarray
    features: np.ndarray


Superposition.x.__doc__ = (
    "float32 `(n_samples, n_dims)`, the embedded data `features @ directions`."
)
Superposition.directions.__doc__ = (
    "float32 `(n_features, n_dims)`, the unit-norm true directions."
)
Superposition.features.__doc__ = (
    "float32 `(n_samples, n_features)`, the sparse ground truth."
)


def superposition(
    n_features: int,
    n_dims: int,
    feature_probability: float,
    n_samples: int,
    seed: int = 0,
    importance: Any = None,
) -> Superposition:
    """Sparse ground-truth features superposed in fewer dimensions.

    As in the toy setting of Elhage et al. (2022): each feature is active with
    probability `feature_probability`, independently per sample, and then takes a
    value uniform on `[0, 1]` (times its importance, if given), else 0. Feature
    `i` is embedded along a random unit direction `d_i` of `R^n_dims`, and a sample
    is `x = sum_i f_i d_i`. With more features than dimensions the directions
    cannot be orthogonal; a sparse autoencoder on `x` should find them again.

    Args:
        n_features: int >= 1, number of ground-truth features.
        n_dims: int >= 1, embedding dimension.
        feature_probability: float in (0, 1], chance that a feature is active.
        n_samples: int >= 1.
        seed: int >= 0, seed of directions and samples. Defaults to `0`.
        importance: `None` or an array of `n_features` non-negative scales of the
            features' values. Defaults to `None` (all 1).

    Returns:
        A `Superposition(x, directions, features)` named tuple of float32 arrays.

    Example:

    >>> data = superposition(512, 128, 0.02, 1000, seed=0)
    >>> data.x.shape, data.directions.shape, data.features.shape
    ((1000, 128), (512, 128), (1000, 512))
    """
    n_features = check_int("n_features", n_features, low=1)
    n_dims = check_int("n_dims", n_dims, low=1)
    p = check_float(
        "feature_probability",
        feature_probability,
        low=0.0,
        high=1.0,
        low_inclusive=False,
    )
    n_samples = check_int("n_samples", n_samples, low=1)
    seed = check_int("seed", seed, low=0)
    scale = np.ones(n_features)
    if importance is not None:
        scale = np.asarray(importance, dtype=np.float64)
        if (
            scale.shape != (n_features,)
            or not np.all(np.isfinite(scale))
            or np.any(scale < 0)
        ):
            raise invalid_argument(
                "importance",
                f"None or {n_features} finite non-negative numbers",
                f"<array of shape {scale.shape}>",
            )
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(n_features, n_dims))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    active = rng.random((n_samples, n_features)) < p
    features = np.where(active, rng.random((n_samples, n_features)), 0.0) * scale
    x = features @ directions
    return Superposition(
        x.astype(np.float32),
        directions.astype(np.float32),
        features.astype(np.float32),
    )
