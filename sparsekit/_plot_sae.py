"""Sparse-autoencoder figures (re-exported by `sk.plot`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sparsekit._validation import check_int, float_array, invalid_argument


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    if ax is None:
        from sparsekit.plot import _pyplot

        _, ax = _pyplot().subplots(figsize=figsize)
    return ax


def l0_fvu_frontier(
    runs: Mapping[str, Sequence[tuple[float, float]]], ax: Any = None
) -> Any:
    """The sparsity-fidelity frontier: FVU against mean L0, one line per method.

    Lower-left is better: fewer active latents and less variance unexplained. A
    method whose curve lies below another's reconstructs better at equal L0.

    Args:
        runs: mapping `method name -> sequence of (l0, fvu) pairs`, e.g. one pair
            per `k` or per sparsity coefficient; points are drawn sorted by L0.
        ax: matplotlib Axes to draw into. Defaults to `None` (a new figure).

    Returns:
        The matplotlib Figure.

    Example:

    >>> fig = l0_fvu_frontier({"topk": [(4, 0.3), (8, 0.2)], "relu": [(5, 0.4)]})
    """
    if not isinstance(runs, Mapping) or not runs:
        raise invalid_argument("runs", "a non-empty mapping name -> (l0, fvu)s", runs)
    checked = {}
    for name, points in runs.items():
        array = np.asarray(points, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
            raise invalid_argument(
                "runs", f"for {name!r} a non-empty list of (l0, fvu) pairs", points
            )
        checked[name] = array[np.argsort(array[:, 0])]
    ax = _axes(ax, (4.5, 3.5))
    for name, array in checked.items():
        ax.plot(array[:, 0], array[:, 1], marker="o", label=name)
    ax.set_xlabel("L0 (active latents per sample)")
    ax.set_ylabel("fraction of variance unexplained")
    ax.legend(fontsize="small")
    return ax.figure


def latent_density(
    codes: Any, bins: int = 40, ax: Any = None, label: str | None = None
) -> Any:
    """Histogram of how often each latent fires, on a log10 axis.

    Latents that never fire are counted in the title rather than drawn (log 0 is
    undefined). Healthy SAEs show one hump; a second hump of ultra-rare latents or
    a large dead count is the failure Bricken et al. (2023) and Gao et al. (2024)
    describe.

    Args:
        codes: array `(n_samples, n_latents)` of codes.
        bins: int >= 1. Defaults to 40.
        ax: matplotlib Axes to draw into (call again with the same `ax` to
            overlay SAEs). Defaults to `None` (a new figure).
        label: str or `None`, legend entry for this histogram.

    Returns:
        The matplotlib Figure.

    Example:

    >>> fig = latent_density(np.maximum(np.random.randn(500, 64) - 1.5, 0))
    """
    array = float_array("codes", codes, min_ndim=2)
    if array.ndim != 2:
        raise invalid_argument("codes", "a 2-D array", array.shape)
    bins = check_int("bins", bins, low=1)
    density = np.mean(array > 0, axis=0)
    alive = density[density > 0]
    ax = _axes(ax, (4.5, 3.2))
    dead = f"{np.sum(density == 0)} of {density.size} never fire"
    text = dead if label is None else f"{label}: {dead}"
    if alive.size:
        ax.hist(np.log10(alive), bins=bins, alpha=0.6, label=text)
    else:
        ax.plot([], [], label=text)
    ax.set_xlabel("log10 firing frequency")
    ax.set_ylabel("latents")
    ax.legend(fontsize="small")
    return ax.figure
