"""Plots: figure structure, the atom mosaic's content, and a light import."""

import os
import subprocess
import sys

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest

from sparsekit import plot

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# Keras 3.15 itself imports matplotlib.pyplot when it is installed
# (keras/src/visualization/plot_image_gallery.py), so the subprocess hides
# matplotlib: sparsekit must import without it and must not import it itself.
NO_MATPLOTLIB = """
import sys

class NoMatplotlib:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "matplotlib":
            raise ModuleNotFoundError(f"blocked {name}", name=name)

sys.meta_path.insert(0, NoMatplotlib())
import numpy as np
import sparsekit
assert "matplotlib" not in sys.modules
try:
    sparsekit.plot.atoms(np.ones((2, 4)), (2, 2))
except ImportError as error:
    assert "sparsekit[plot]" in str(error)
else:
    raise AssertionError("plotting without matplotlib should raise ImportError")
assert "matplotlib" not in sys.modules
"""


def test_import_sparsekit_does_not_import_matplotlib():
    subprocess.run([sys.executable, "-c", NO_MATPLOTLIB], check=True, env=os.environ)


def test_atom_mosaic_tiles_each_atom_scaled_to_unit_magnitude():
    dictionary = RNG.normal(size=(5, 6))
    dictionary[3] = 0.0
    mosaic = plot.atom_mosaic(dictionary, (2, 3), ncols=2)
    # 3 rows x 2 columns of 2x3 tiles with one-pixel borders.
    assert mosaic.shape == (3 * 3 - 1, 2 * 4 - 1)
    for i, atom in enumerate(dictionary):
        row, col = divmod(i, 2)
        tile = mosaic[row * 3 : row * 3 + 2, col * 4 : col * 4 + 3]
        scale = np.abs(atom).max() or 1.0
        np.testing.assert_allclose(tile, (atom / scale).reshape(2, 3))
    assert np.isnan(mosaic[2, :]).all() and np.isnan(mosaic[:, 3]).all()
    assert np.isnan(mosaic[6:, 4:]).all()  # the unused sixth cell
    assert np.nanmax(np.abs(mosaic)) == pytest.approx(1.0)


def test_atoms_draws_one_symmetric_image_in_a_new_figure_or_given_axes():
    dictionary = keras.ops.convert_to_tensor(RNG.normal(size=(10, 16)))
    fig = plot.atoms(dictionary, (4, 4))
    assert len(fig.axes) == 1
    (image,) = fig.axes[0].get_images()
    assert image.get_array().shape == (3 * 5 - 1, 4 * 5 - 1)  # ceil(sqrt(10)) = 4
    assert image.get_clim() == (-1.0, 1.0)

    fig, axes = plt.subplots(1, 2)
    assert plot.atoms(np.ones((3, 4)), (2, 2), ncols=3, ax=axes[1]) is fig
    assert len(axes[1].get_images()) == 1 and len(axes[0].get_images()) == 0


def test_activation_histogram_bins_log_scale_and_zero_fraction():
    activations = np.maximum(RNG.normal(size=(40, 25)), 0.0)
    fig = plot.activation_histogram(activations, bins=20)
    ax = fig.axes[0]
    assert len(ax.patches) == 20
    assert ax.get_yscale() == "log"
    heights = [patch.get_height() for patch in ax.patches]
    np.testing.assert_array_equal(heights, np.histogram(activations, bins=20)[0])
    assert ax.get_title() == f"{np.mean(activations == 0):.1%} exact zeros"
    fig = plot.activation_histogram(activations, bins=7, log=False)
    assert fig.axes[0].get_yscale() == "linear" and len(fig.axes[0].patches) == 7


HISTORY = {
    "h1": {"hoyer": [0.1, 0.2, 0.3], "dead_units": [0.0, 0.0, 0.1]},
    "h2": {"hoyer": [0.5, 0.4, 0.3], "dead_units": [0.2, 0.2, 0.2]},
}


def test_sparsity_history_one_panel_per_metric_one_line_per_layer():
    fig = plot.sparsity_history(HISTORY)
    assert [ax.get_title() for ax in fig.axes] == ["hoyer", "dead_units"]
    for ax, metric in zip(fig.axes, ["hoyer", "dead_units"], strict=True):
        lines = ax.get_lines()
        assert len(lines) == 2
        for line, layer in zip(lines, HISTORY, strict=True):
            np.testing.assert_allclose(line.get_ydata(), HISTORY[layer][metric])
            np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2])
    fig = plot.sparsity_history(HISTORY, ["dead_units"], epochs=[0, 2, 4])
    assert len(fig.axes) == 1
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_xdata(), [0, 2, 4])


def test_invalid_arguments_name_the_argument_and_value():
    d = np.ones((4, 9))
    cases = [
        (lambda: plot.atoms(d, (2, 4)), r"`shape`.*= 9.*shape=\(2, 4\)"),
        (lambda: plot.atoms(d, (3, 3, 1)), r"`shape`.*shape=\(3, 3, 1\)"),
        (lambda: plot.atoms(d, 9), r"`shape`.*shape=9"),
        (lambda: plot.atoms(np.ones(9), (3, 3)), r"`dictionary`.*shape \(9,\)"),
        (lambda: plot.atoms(d, (3, 3), ncols=0), r"`ncols`.*ncols=0"),
        (lambda: plot.atom_mosaic("x", (3, 3)), r"`dictionary`.*'x'"),
        (lambda: plot.activation_histogram(d, bins=0), r"`bins`.*bins=0"),
        (lambda: plot.activation_histogram(d, log="yes"), r"`log`.*log='yes'"),
        (lambda: plot.activation_histogram([]), r"`activations`"),
        (lambda: plot.sparsity_history({}), r"`history`.*history=\{\}"),
        (lambda: plot.sparsity_history({"h": [1.0]}), r"`history`.*'h'"),
        (lambda: plot.sparsity_history(HISTORY, ["gini"]), r"`metrics`.*'gini'"),
        (lambda: plot.sparsity_history(HISTORY, "hoyer"), r"`metrics`.*'hoyer'"),
        (
            lambda: plot.sparsity_history(HISTORY, epochs=[0, 1]),
            r"`epochs`.*3 epochs.*epochs=\[0, 1\]",
        ),
    ]
    for call, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            call()
    assert plt.get_fignums() == []  # failed calls leave no half-made figures
