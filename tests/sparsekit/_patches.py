"""Natural-image patches sampled independently of `sk.datasets` for solver tests."""

import functools

import numpy as np
from sklearn.datasets import load_sample_images


@functools.cache
def raw_patches(n: int, seed: int, size: int = 8) -> np.ndarray:
    """Grayscale, mean-removed float64 patches of scikit-learn's two sample images."""
    rng = np.random.default_rng(seed)
    out = []
    for image in load_sample_images().images:
        gray = image.mean(axis=2) / 255.0
        for _ in range(n // 2):
            i = rng.integers(0, gray.shape[0] - size)
            j = rng.integers(0, gray.shape[1] - size)
            out.append(gray[i : i + size, j : j + size].ravel())
    x = np.asarray(out)
    return x - x.mean(axis=1, keepdims=True)
