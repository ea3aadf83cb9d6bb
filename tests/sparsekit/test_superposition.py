"""Superposed data and the measures an SAE is judged by."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

import sparsekit as sk


def test_superposition_data_matches_its_definition():
    data = sk.datasets.superposition(200, 20, 0.05, 20_000, seed=3)
    assert data.x.shape == (20_000, 20) and data.x.dtype == np.float32
    assert data.directions.shape == (200, 20)
    np.testing.assert_allclose(np.linalg.norm(data.directions, axis=1), 1, rtol=1e-6)
    active = data.features > 0
    assert active.mean() == pytest.approx(0.05, abs=0.002)
    values = data.features[active]
    assert values.max() <= 1 and values.mean() == pytest.approx(0.5, abs=0.01)
    np.testing.assert_allclose(data.x, data.features @ data.directions, atol=1e-5)
    again = sk.datasets.superposition(200, 20, 0.05, 20_000, seed=3)
    np.testing.assert_array_equal(again.x, data.x)
    other = sk.datasets.superposition(200, 20, 0.05, 20_000, seed=4)
    assert not np.array_equal(other.directions, data.directions)
    x, directions, features = data  # a plain tuple too
    assert x is data.x and features is data.features and directions is data.directions


def test_superposition_importance_scales_features():
    importance = np.linspace(0, 2, 10)
    data = sk.datasets.superposition(10, 4, 0.5, 5000, seed=0, importance=importance)
    np.testing.assert_allclose(data.features.max(axis=0), importance, atol=0.01)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_features": 0}, "n_features"),
        ({"n_dims": 0}, "n_dims"),
        ({"feature_probability": 0.0}, "feature_probability"),
        ({"feature_probability": 1.5}, "feature_probability"),
        ({"n_samples": 0}, "n_samples"),
        ({"seed": -1}, "seed"),
        ({"importance": [1.0, 2.0]}, "importance"),
        ({"importance": -np.ones(8)}, "importance"),
    ],
)
def test_superposition_bad_arguments(kwargs, match):
    args = {"n_features": 8, "n_dims": 3, "feature_probability": 0.1, "n_samples": 5}
    with pytest.raises(ValueError, match=match):
        sk.datasets.superposition(**{**args, **kwargs})


def test_fraction_variance_unexplained():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6)) * 3 + 7
    assert sk.metrics.fraction_variance_unexplained(x, x) == 0
    mean = np.broadcast_to(x.mean(axis=0), x.shape)
    assert sk.metrics.fraction_variance_unexplained(x, mean) == pytest.approx(1.0)
    noisy = x + rng.normal(size=x.shape) * 0.3
    fvu = sk.metrics.fraction_variance_unexplained(x, noisy)
    assert fvu == pytest.approx(0.01, rel=0.15)  # noise variance 0.09 over 9
    assert sk.metrics.fraction_variance_unexplained(10 * x, 10 * noisy) == (
        pytest.approx(fvu)
    )
    with pytest.raises(ValueError, match="x_hat"):
        sk.metrics.fraction_variance_unexplained(x, x[:, :3])
    with pytest.raises(ValueError, match="`x`"):
        sk.metrics.fraction_variance_unexplained(np.ones((3, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="x_hat.*finite"):
        sk.metrics.fraction_variance_unexplained(x, np.full_like(x, np.nan))


def test_feature_recovery():
    true = np.eye(4)
    learned = np.array([[1.0, 0.1, 0, 0], [0, 0, -1.0, 0], [0, 0, 0, 5.0]])
    best = sk.metrics.feature_recovery(learned, true, return_similarity=True)
    np.testing.assert_allclose(best, [1 / np.sqrt(1.01), 0.1 / np.sqrt(1.01), 0, 1])
    # The flipped atom does not count: codes are non-negative.
    assert sk.metrics.feature_recovery(learned, true, 0.9) == 0.5
    assert sk.metrics.feature_recovery(learned, true, 0.999) == 0.25
    with pytest.raises(ValueError, match="learned"):
        sk.metrics.feature_recovery(learned[:, :3], true)
    with pytest.raises(ValueError, match="threshold"):
        sk.metrics.feature_recovery(learned, true, 2.0)
    with pytest.raises(ValueError, match="true"):
        sk.metrics.feature_recovery(learned, np.zeros((2, 4)))


def test_frontier_and_density_plots():
    fig = sk.plot.l0_fvu_frontier({"topk": [(8, 0.2), (4, 0.3)], "relu": [(5, 0.4)]})
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["topk", "relu"]
    np.testing.assert_array_equal(lines[0].get_xdata(), [4, 8])  # sorted by L0
    plt.close(fig)
    codes = np.zeros((100, 5))
    codes[:10, 0] = 1.0
    codes[:, 1] = 1.0
    fig = sk.plot.latent_density(codes, label="sae")
    ax = fig.axes[0]
    assert ax.get_legend().get_texts()[0].get_text() == "sae: 3 of 5 never fire"
    heights = [patch.get_height() for patch in ax.patches]
    assert sum(heights) == 2  # the two live latents
    plt.close(fig)
    with pytest.raises(ValueError, match="runs"):
        sk.plot.l0_fvu_frontier({"topk": [1, 2]})
    with pytest.raises(ValueError, match="codes"):
        sk.plot.latent_density(np.zeros(5))
