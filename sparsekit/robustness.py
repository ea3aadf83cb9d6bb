"""Pixel-noise robustness test of Ahmad & Scheinkman (2019).

A fraction of each image's pixels, chosen at random, is set to one bright value;
a model's *noise score* is its number of correct answers summed over noise levels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from sparsekit._validation import check_float, check_int, invalid_argument

__all__ = ["NOISE_LEVELS", "noise_curve", "pixel_noise"]

#: The paper's 11 levels, 0 % to 50 % of the pixels in steps of 5 %.
NOISE_LEVELS = tuple(round(0.05 * i, 2) for i in range(11))


def pixel_noise(
    x: Any, level: float, *, value: float, seed: int | np.random.Generator | None = None
) -> np.ndarray:
    """Sets a random fraction `level` of each sample's entries to `value`.

    Every sample (all non-batch axes flattened into `n` entries) gets exactly
    `int(level * n)` entries, drawn uniformly without replacement and independently
    per sample, replaced by `value`; the rest is unchanged. This is the
    `RandomNoise` transform of Ahmad & Scheinkman (2019), who set the chosen MNIST
    pixels to the data's mean + 2 standard deviations (0.1307 + 2 * 0.3081 for
    pixels in `[0, 1]`), before normalising the images.

    Args:
        x: array of shape `(n_samples, ...)`.
        level: float in `[0, 1]`, the fraction of entries replaced.
        value: float, the value written into the chosen entries.
        seed: int >= 0, NumPy `Generator` or `None`, the randomness of the
            positions. Defaults to `None` (fresh entropy).

    Returns:
        A new array of `x`'s shape and dtype (float32 for integer input).

    Example:

    >>> noisy = pixel_noise(np.zeros((2, 10)), 0.3, value=1.0, seed=0)
    >>> noisy.sum(axis=1)
    array([3., 3.])
    """
    level = check_float("level", level, low=0.0, high=1.0)
    value = check_float("value", value)
    rng = _generator(seed)
    x = np.asarray(keras.ops.convert_to_numpy(x))
    if x.ndim < 1 or x.shape[0] == 0:
        raise invalid_argument("x", "an array of shape (n_samples, ...)", x.shape)
    out = x.astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32)
    flat = out.reshape(len(out), -1)  # a view: writes land in `out`
    n_noisy = int(level * flat.shape[1])
    if n_noisy > 0:
        # The n_noisy smallest of uniform keys per row: a uniform random subset.
        keys = rng.random(flat.shape)
        chosen = np.argpartition(keys, n_noisy - 1, axis=1)[:, :n_noisy]
        np.put_along_axis(flat, chosen, value, axis=1)
    return out


def noise_curve(
    predict: Callable[[np.ndarray], Any],
    x: Any,
    y: Any,
    *,
    value: float,
    levels: Sequence[float] = NOISE_LEVELS,
    seed: int = 0,
) -> np.ndarray:
    """Correct answers of one or several classifiers at each pixel-noise level.

    For each level the test inputs are corrupted once with `pixel_noise` (from a
    generator seeded with `seed`, so the same `seed` gives every model the same
    noisy images, for paired comparisons) and scored with `predict`. The noise
    score of Ahmad & Scheinkman (2019) is the column sum, `curve.sum(axis=0)`;
    its maximum is `len(levels) * n_samples`.

    Args:
        predict: callable mapping an array of inputs to class scores of shape
            `(n_samples, n_classes)`, or to a list of such arrays (one per
            model, e.g. the branches of a multi-output Keras model); for
            example `lambda x: model.predict(x, verbose=0)`.
        x: array of shape `(n_samples, ...)`, clean inputs.
        y: integer labels of shape `(n_samples,)`.
        value: float, the bright value written into noisy pixels.
        levels: sequence of floats in `[0, 1]`, fractions of pixels replaced.
            Defaults to `NOISE_LEVELS` (0.00, 0.05, ..., 0.50).
        seed: int >= 0, seed of the noise positions. Defaults to `0`.

    Returns:
        An int64 array of correct counts, shape `(n_levels,)` when `predict`
        returns one array, `(n_levels, n_models)` when it returns a list.

    Example:

    >>> predict = lambda x: np.stack([x[:, 0], 1 - x[:, 0]], axis=1)
    >>> noise_curve(predict, np.ones((4, 5)), np.zeros(4, int), value=0.0,
    ...             levels=[0.0])
    array([4])
    """
    seed = check_int("seed", seed, low=0)
    y = np.asarray(keras.ops.convert_to_numpy(y))
    x = np.asarray(keras.ops.convert_to_numpy(x))
    if y.shape != (len(x),):
        raise invalid_argument("y", f"labels of shape ({len(x)},)", y.shape)
    levels = [check_float("levels", level, low=0.0, high=1.0) for level in levels]
    if not levels:
        raise invalid_argument("levels", "at least one noise level", levels)
    rng = np.random.default_rng(seed)
    rows, several = [], False
    for level in levels:
        scores = predict(pixel_noise(x, level, value=value, seed=rng))
        several = isinstance(scores, (list, tuple))
        outputs = scores if several else [scores]
        rows.append(
            [
                int(np.sum(np.argmax(keras.ops.convert_to_numpy(s), axis=-1) == y))
                for s in outputs
            ]
        )
    counts = np.asarray(rows, dtype=np.int64)
    return counts if several else counts[:, 0]


def _generator(seed: Any) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None:
        seed = check_int("seed", seed, low=0)
    return np.random.default_rng(seed)
