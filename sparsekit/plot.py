"""Matplotlib figures for dictionaries, activations and sparsity histories.

matplotlib is imported inside the functions so `import sparsekit` stays light, and
no backend is forced: figures are made with `matplotlib.pyplot`, so notebooks show
them inline and headless runs use whatever backend matplotlib picks (Agg).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from sparsekit._validation import check_bool, check_int, invalid_argument

__all__ = [
    "atoms",
    "atom_mosaic",
    "activation_histogram",
    "sparsity_history",
    "l0_fvu_frontier",
    "latent_density",
]


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "sparsekit.plot needs matplotlib: pip install 'sparsekit[plot]'"
        ) from error
    return plt


def _new_axes(ax: Any, figsize: tuple[float, float]) -> Any:
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _to_numpy(name: str, x: Any) -> np.ndarray:
    try:
        return np.asarray(keras.ops.convert_to_numpy(x), dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise invalid_argument(name, "a numeric array or tensor", x) from error


def atom_mosaic(
    dictionary: Any, shape: Sequence[int], ncols: int | None = None
) -> np.ndarray:
    """Tiles atoms into one image, each scaled symmetrically into `[-1, 1]`.

    Atom `i` goes to grid cell `(i // ncols, i % ncols)` divided by its largest
    magnitude (an all-zero atom stays 0); cells are separated by a one-pixel NaN
    border, drawn as background.

    Args:
        dictionary: array or tensor of shape `(n_atoms, n_features)`.
        shape: pair of ints `(height, width)` with `height * width == n_features`.
        ncols: int >= 1, atoms per row. Defaults to `ceil(sqrt(n_atoms))`.

    Returns:
        A float64 array of shape `(rows * (height + 1) - 1, ncols * (width + 1) - 1)`.
    """
    dictionary = _to_numpy("dictionary", dictionary)
    if dictionary.ndim != 2 or dictionary.shape[0] == 0:
        expected = "an array of shape (n_atoms, n_features) with n_atoms >= 1"
        raise invalid_argument(
            "dictionary", expected, f"<array of shape {dictionary.shape}>"
        )
    n_atoms, n_features = dictionary.shape
    ok = (
        isinstance(shape, Sequence)
        and len(shape) == 2
        and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)
    )
    if not ok or shape[0] * shape[1] != n_features:
        expected = f"a pair (height, width) with height * width = {n_features}"
        raise invalid_argument("shape", expected, shape)
    height, width = shape
    if ncols is None:
        ncols = math.ceil(math.sqrt(n_atoms))
    ncols = check_int("ncols", ncols, low=1)
    nrows = math.ceil(n_atoms / ncols)
    scale = np.abs(dictionary).max(axis=1, keepdims=True)
    scaled = dictionary / np.where(scale > 0, scale, 1.0)
    mosaic = np.full((nrows * (height + 1) - 1, ncols * (width + 1) - 1), np.nan)
    for i, atom in enumerate(scaled):
        row, col = divmod(i, ncols)
        top, left = row * (height + 1), col * (width + 1)
        mosaic[top : top + height, left : left + width] = atom.reshape(height, width)
    return mosaic


def atoms(
    dictionary: Any,
    shape: Sequence[int],
    ncols: int | None = None,
    ax: Any = None,
) -> Any:
    """Shows dictionary atoms (or filters) as a grid of small images.

    Each atom is reshaped to `shape` and divided by its largest magnitude, so every
    atom spans `[-1, 1]` on a diverging colour map with 0 at the centre colour
    (see `atom_mosaic`). The grid is drawn as one image, which stays fast for
    hundreds of atoms.

    Args:
        dictionary: array or tensor of shape `(n_atoms, n_features)`, e.g.
            `DictionaryLearning.components_` or a Dense kernel transposed.
        shape: pair of ints `(height, width)` with `height * width == n_features`.
        ncols: int >= 1, atoms per row. Defaults to `ceil(sqrt(n_atoms))`.
        ax: matplotlib Axes to draw into. Defaults to `None` (a new figure).

    Returns:
        The matplotlib Figure.

    Example:

    >>> fig = atoms(np.random.randn(16, 64), shape=(8, 8))
    """
    mosaic = atom_mosaic(dictionary, shape, ncols)
    ax = _new_axes(ax, (6.0, 6.0 * mosaic.shape[0] / mosaic.shape[1]))
    ax.set_facecolor("0.85")
    ax.imshow(mosaic, cmap="RdBu_r", vmin=-1.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax.figure


def activation_histogram(
    activations: Any, bins: int = 50, ax: Any = None, log: bool = True
) -> Any:
    """Histogram of all activation values, titled with the fraction of exact zeros.

    Sparse codes show a tall spike at 0 and a long tail; a log count axis keeps the
    tail visible next to the spike.

    Args:
        activations: array or tensor of any shape; all entries are pooled.
        bins: int >= 1, number of histogram bins. Defaults to `50`.
        ax: matplotlib Axes to draw into. Defaults to `None` (a new figure).
        log: bool, use a logarithmic count axis. Defaults to `True`.

    Returns:
        The matplotlib Figure.

    Example:

    >>> fig = activation_histogram(np.maximum(np.random.randn(1000, 32), 0.0))
    """
    values = _to_numpy("activations", activations).ravel()
    if values.size == 0 or not np.all(np.isfinite(values)):
        expected = "a non-empty array of finite values"
        raise invalid_argument("activations", expected, f"<array of {values.size}>")
    bins = check_int("bins", bins, low=1)
    log = check_bool("log", log)
    ax = _new_axes(ax, (5.0, 3.5))
    ax.hist(values, bins=bins, log=log, color="C0")
    ax.set_xlabel("activation")
    ax.set_ylabel("count")
    ax.set_title(f"{np.mean(values == 0.0):.1%} exact zeros")
    return ax.figure


def sparsity_history(
    history: Mapping[str, Mapping[str, Sequence[float]]],
    metrics: Sequence[str] | None = None,
    *,
    epochs: Sequence[int] | None = None,
) -> Any:
    """Plots per-layer sparsity metrics over training, one panel per metric.

    Args:
        history: mapping `layer name -> metric name -> list of values`, as recorded
            in `sparsekit.callbacks.SparsityMonitor.history`.
        metrics: sequence of metric names to plot. Defaults to `None` (every metric
            found, in first-seen order).
        epochs: sequence of ints, the x values (epoch numbers). Defaults to `None`
            (`0, 1, 2, ...`).

    Returns:
        The matplotlib Figure: one Axes per metric, one line per layer.

    Example:

    >>> fig = sparsity_history({"dense": {"hoyer": [0.2, 0.4, 0.5]}})
    """
    if not isinstance(history, Mapping) or not history:
        raise invalid_argument("history", "a non-empty mapping of layers", history)
    if not all(isinstance(per_layer, Mapping) for per_layer in history.values()):
        expected = "a mapping layer name -> metric name -> values"
        raise invalid_argument("history", expected, history)
    found = list(dict.fromkeys(m for per in history.values() for m in per))
    if metrics is None:
        metrics = found
    elif isinstance(metrics, str) or not all(m in found for m in metrics):
        raise invalid_argument("metrics", f"a list of names from {found}", metrics)
    metrics = list(metrics)
    if not metrics:
        raise invalid_argument("metrics", f"a non-empty list from {found}", metrics)

    for per_layer in history.values():
        for metric in metrics:
            n_values = len(per_layer.get(metric, ()))
            if epochs is not None and metric in per_layer and len(epochs) != n_values:
                expected = f"{n_values} epochs to match the history"
                raise invalid_argument("epochs", expected, epochs)

    fig, axes = _pyplot().subplots(
        1, len(metrics), figsize=(3.2 * len(metrics), 2.8), squeeze=False
    )
    for ax, metric in zip(axes[0], metrics, strict=True):
        for layer, per_layer in history.items():
            if metric not in per_layer:
                continue
            values = list(per_layer[metric])
            x = list(epochs) if epochs is not None else list(range(len(values)))
            ax.plot(x, values, marker="o", label=layer)
        ax.set_title(metric)
        ax.set_xlabel("epoch")
    axes[0][0].legend(fontsize="small")
    fig.tight_layout()
    return fig


# Defined after `_pyplot`, which they use.
from sparsekit._plot_sae import l0_fvu_frontier, latent_density  # noqa: E402
