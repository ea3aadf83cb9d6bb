"""Inspecting and exporting pruned models: `weight_sparsity` and `strip`."""

from __future__ import annotations

from collections.abc import Iterable

import keras
from keras import ops

from sparsekit._validation import check_bool, invalid_argument
from sparsekit.pruning._masks import prunable_kernels


def weight_sparsity(
    model: keras.layers.Layer,
    *,
    layers: Iterable[str | keras.layers.Layer] | None = None,
    per_layer: bool = False,
) -> float | dict[str, float]:
    """Fraction of exactly-zero weights in a model's prunable kernels.

    sparsity = (number of kernel entries equal to 0) / (number of kernel entries),
    over the same kernels `MagnitudePruning` prunes by default (biases excluded).

    Args:
        model: a built `keras.Model` or layer.
        layers: list of layer names or layer objects, or None for every Dense,
            EinsumDense and Conv kernel. Defaults to None.
        per_layer: bool. Return a dict `{layer name: sparsity}` instead of the
            overall fraction. Defaults to False.

    Returns:
        A float in [0, 1], or a dict of floats if `per_layer=True`.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> model.layers[0].kernel.assign(np.zeros((4, 2)))
    >>> sk.pruning.weight_sparsity(model)
    1.0
    """
    per_layer = check_bool("per_layer", per_layer)
    pairs = prunable_kernels(model, layers)
    if not pairs:
        raise invalid_argument(
            "model", "a model with Dense, EinsumDense or Conv kernels", model.name
        )
    # JAX trains on a copy of the weights; make sure the variables are current.
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()
    zeros = {}
    for layer, kernel in pairs:
        n_zero = int(ops.sum(ops.cast(ops.equal(kernel, 0), "int32")))
        zeros[layer.name] = (n_zero, int(ops.size(kernel)))
    if per_layer:
        return {name: n_zero / size for name, (n_zero, size) in zeros.items()}
    total_zero = sum(n_zero for n_zero, _ in zeros.values())
    return total_zero / sum(size for _, size in zeros.values())


def strip(model: keras.Model) -> keras.Model:
    """Returns a clean copy of a pruned model, ready to export.

    The copy has the same architecture (`keras.models.clone_model`) and the same
    weights, pruned ones exactly zero, but no pruning constraints and no optimizer
    state (a compiled model's copy is compiled alike, with a fresh optimizer): its
    `.keras` file loads with plain Keras, has no dependency on `sparsekit.pruning`
    and carries no momentum slots. To keep pruning the copy, pass a new
    `MagnitudePruning` to `fit`, which restores the masks from the zeros (the
    schedule restarts at step 0).

    Args:
        model: a built `keras.Model` (Sequential, functional, or subclassed with
            `get_config`).

    Returns:
        A new `keras.Model` with the original's weights.

    Example:

    >>> small = sk.pruning.strip(model)
    >>> small.save("pruned.keras")  # loads with keras.saving.load_model alone
    """
    if not isinstance(model, keras.Model):
        raise invalid_argument("model", "a keras.Model", type(model).__name__)
    if not model.built:
        raise invalid_argument("model", "a built model", model.name)
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone
