"""Private helpers of `sparsekit.pruning`: which kernels to prune, and their masks."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import keras
from keras import ops

from sparsekit._validation import invalid_argument

# Layers pruned by default; isinstance also covers their subclasses.
PRUNABLE_TYPES = (
    keras.layers.Dense,
    keras.layers.EinsumDense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
)


def _all_layers(model: keras.layers.Layer) -> list[keras.layers.Layer]:
    # Keras' own depth-first walk reaches layers nested in plain layers too
    # (e.g. the EinsumDense projections inside MultiHeadAttention).
    flatten = getattr(model, "_flatten_layers", None)
    if flatten is not None:
        return list(flatten(include_self=False, recursive=True))
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        found.extend(_all_layers(layer))
    return found


def _kernel_of(layer: keras.layers.Layer):
    kernel = getattr(layer, "kernel", None)
    return kernel if isinstance(kernel, keras.Variable) else None


def prunable_kernels(
    model: keras.layers.Layer, layers: Iterable | None = None
) -> list[tuple[keras.layers.Layer, keras.Variable]]:
    """Returns `(layer, kernel)` pairs in model order.

    `layers=None` selects every built Dense/EinsumDense/Conv kernel; otherwise a list
    of layer names or layer objects, each of which must hold a float `kernel`.
    """
    every = _all_layers(model)
    if layers is None:
        chosen = [layer for layer in every if isinstance(layer, PRUNABLE_TYPES)]
        pairs = [(layer, _kernel_of(layer)) for layer in chosen]
        return [(layer, kernel) for layer, kernel in pairs if kernel is not None]
    if isinstance(layers, (str, keras.layers.Layer)):
        layers = [layers]
    try:
        requested = list(layers)
    except TypeError:
        raise invalid_argument(
            "layers", "None or a list of layer names or layers", layers
        ) from None
    by_name = {layer.name: layer for layer in every}
    pairs, seen = [], set()
    for item in requested:
        layer = by_name.get(item) if isinstance(item, str) else item
        if not any(layer is other for other in every):
            received = item if isinstance(item, str) else getattr(item, "name", item)
            raise invalid_argument("layers", "names or layers of this model", received)
        kernel = _kernel_of(layer)
        if kernel is None:
            raise invalid_argument(
                "layers", "layers with a built float `kernel` weight", layer.name
            )
        if id(kernel) not in seen:
            seen.add(id(kernel))
            pairs.append((layer, kernel))
    if not pairs:
        raise invalid_argument("layers", "at least one layer", requested)
    return pairs


def n_pruned(sparsity: float, size: int) -> int:
    """round(sparsity * size), halves rounded up so the count is easy to predict."""
    return int(math.floor(sparsity * size + 0.5))


def _smallest_mask(magnitudes, n_zeros: int):
    """A 0/1 vector with zeros at the `n_zeros` smallest magnitudes.

    rank = argsort(argsort(|w|)) and mask = rank >= n_zeros: every shape is
    independent of the sparsity, so JAX compiles these ops once rather than at every
    mask update (and no scatter, the slowest op to compile). The sort is stable on
    both backends, so ties are broken deterministically: the earliest weights are
    pruned first.
    """
    rank = ops.argsort(ops.argsort(magnitudes))
    return ops.cast(rank >= n_zeros, magnitudes.dtype)


def compute_masks(
    kernels: Sequence[keras.Variable], sparsity: float, scope: str
) -> list:
    """Masks with exactly `n_pruned(sparsity, n)` zeros per kernel ("layer") or over
    all kernels together ("global")."""
    flats = [ops.reshape(ops.abs(ops.convert_to_tensor(k)), (-1,)) for k in kernels]
    if scope == "layer":
        flat_masks = [_smallest_mask(f, n_pruned(sparsity, f.shape[0])) for f in flats]
    else:
        # One ranking over every weight: one global magnitude threshold.
        flats = [ops.cast(f, "float32") for f in flats]
        joined = ops.concatenate(flats, axis=0)
        mask = _smallest_mask(joined, n_pruned(sparsity, joined.shape[0]))
        sizes = [f.shape[0] for f in flats]
        offsets = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
        flat_masks = [mask[offsets[i] : offsets[i + 1]] for i in range(len(sizes))]
    return [
        ops.cast(ops.reshape(m, k.shape), k.dtype)
        for m, k in zip(flat_masks, kernels, strict=True)
    ]


class MaskConstraint(keras.constraints.Constraint):
    """Multiplies a kernel by its mask after every optimizer update.

    The optimizer applies variable constraints inside the compiled train step, so
    this costs one multiply per kernel per step and also runs under tf.distribute
    and with `steps_per_execution > 1`. It wraps the layer's own constraint (if any)
    and is set on the variable only, never on the layer, so it never reaches a saved
    config.
    """

    def __init__(self, mask: keras.Variable, inner=None):
        self.mask = mask
        self.inner = inner

    def __call__(self, w):
        if self.inner is not None:
            w = self.inner(w)
        return w * self.mask
