"""Pixel noise and the noise curve of Ahmad & Scheinkman (2019)."""

import numpy as np
import pytest

from sparsekit.robustness import NOISE_LEVELS, noise_curve, pixel_noise


def test_levels_are_the_papers_eleven():
    assert len(NOISE_LEVELS) == 11
    np.testing.assert_allclose(NOISE_LEVELS, np.linspace(0, 0.5, 11))


@pytest.mark.parametrize("level", [0.0, 0.05, 0.3, 0.5, 1.0])
def test_exactly_int_level_times_n_entries_per_sample_are_set(level):
    x = np.random.default_rng(0).uniform(0, 0.5, size=(20, 28, 28)).astype("float32")
    noisy = pixel_noise(x, level, value=0.75, seed=1)
    assert noisy.shape == x.shape and noisy.dtype == np.float32
    changed = (noisy != x).reshape(20, -1)
    np.testing.assert_array_equal(changed.sum(axis=1), int(level * 784))
    assert np.all(noisy[noisy != x] == np.float32(0.75))
    assert np.all(x <= 0.5)  # the input is not modified


def test_positions_differ_between_samples_and_are_uniform():
    noisy = pixel_noise(np.zeros((4000, 10)), 0.3, value=1.0, seed=0)
    assert len({tuple(row) for row in noisy}) > 50
    # each position is chosen with probability 0.3
    np.testing.assert_allclose(noisy.mean(axis=0), 0.3, atol=0.03)


def test_seed_makes_it_reproducible_and_integer_input_becomes_float():
    x = np.zeros((3, 8), dtype=np.uint8)
    a = pixel_noise(x, 0.5, value=2.0, seed=3)
    b = pixel_noise(x, 0.5, value=2.0, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"level": 1.5}, "`level`"),
        ({"level": -0.1}, "`level`"),
        ({"value": float("nan")}, "`value`"),
        ({"seed": -1}, "`seed`"),
    ],
)
def test_pixel_noise_rejects_bad_arguments(kwargs, match):
    args = {"level": 0.1, "value": 1.0, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        pixel_noise(np.zeros((2, 4)), args.pop("level"), **args)


def test_pixel_noise_rejects_empty_input():
    with pytest.raises(ValueError, match="`x`"):
        pixel_noise(np.zeros((0, 4)), 0.1, value=1.0)


def brightest_pixel_classifier(x):
    """Class = index of the brightest of the first 3 pixels (one-hot scores)."""
    return np.eye(3)[np.argmax(x[:, :3], axis=1)]


def test_noise_curve_counts_correct_answers_per_level():
    x = np.zeros((50, 100), "float32")
    x[:, 1] = 0.5  # every sample is class 1
    y = np.ones(50, int)
    curve = noise_curve(brightest_pixel_classifier, x, y, value=1.0, seed=0)
    assert curve.shape == (11,) and curve.dtype == np.int64
    assert curve[0] == 50
    # noise on pixel 0 or 2 (not on 1) flips the answer: accuracy falls with level
    assert curve[-1] < curve[4] < curve[0]
    assert curve.sum() <= 11 * 50


def test_noise_curve_gives_every_model_the_same_images():
    x = np.random.default_rng(0).random((30, 20))
    y = np.argmax(x[:, :3], axis=1)
    seen = []

    def two_models(images):
        seen.append(images)
        scores = brightest_pixel_classifier(images)
        return [scores, scores]

    curve = noise_curve(two_models, x, y, value=2.0, levels=[0.0, 0.5], seed=4)
    assert curve.shape == (2, 2)
    np.testing.assert_array_equal(curve[:, 0], curve[:, 1])
    again = noise_curve(
        brightest_pixel_classifier, x, y, value=2.0, levels=[0.0, 0.5], seed=4
    )
    np.testing.assert_array_equal(again, curve[:, 0])
    np.testing.assert_array_equal(seen[0], x)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y": np.zeros(3, int)}, "`y`"),
        ({"levels": []}, "`levels`"),
        ({"levels": [0.1, 2.0]}, "`levels`"),
        ({"seed": -2}, "`seed`"),
    ],
)
def test_noise_curve_rejects_bad_arguments(kwargs, match):
    args = {"y": np.zeros(5, int), "value": 1.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        noise_curve(brightest_pixel_classifier, np.zeros((5, 4)), **args)
