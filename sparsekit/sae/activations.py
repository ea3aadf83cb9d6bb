"""The sparse activations of a sparse autoencoder, as functions of pre-activations.

Each takes the encoder's pre-activations `pre` of shape `(batch, n_latents)` and
returns non-negative codes of the same shape. They are plain `keras.ops` code, so
they run inside the model's compiled step on TensorFlow and JAX alike.
"""

from __future__ import annotations

from typing import Any

from keras import ops

from sparsekit.ops.topk import topk_mask


def topk(pre: Any, k: int) -> Any:
    """ReLU of the `k` largest pre-activations per sample (Gao et al., 2024).

    The gradient reaches only the kept, positive units.
    """
    return ops.relu(pre) * ops.stop_gradient(topk_mask(pre, k))


def batch_topk(pre: Any, k: int) -> Any:
    """Keeps the `k * batch` largest pre-activations of the whole batch.

    Samples share the budget (Bussmann et al., 2024): on average a sample keeps `k`,
    a busy one more, a simple one fewer. Returns the codes and the smallest kept
    value (the batch's threshold, for the running estimate used at inference).
    """
    flat = ops.reshape(pre, (1, -1))
    # A static batch size keeps `budget` a Python int, which JAX's top_k needs;
    # k <= n_latents, so the budget never exceeds the batch's entries.
    rows = pre.shape[0] if pre.shape[0] is not None else ops.shape(pre)[0]
    budget = rows * k
    kept, _ = ops.top_k(flat, budget, sorted=False)
    threshold = ops.min(kept)
    mask = ops.stop_gradient(ops.cast(ops.greater_equal(pre, threshold), pre.dtype))
    return ops.relu(pre) * mask, threshold


def above(pre: Any, threshold: Any) -> Any:
    """Pre-activations above a threshold, zero elsewhere (inference form)."""
    mask = ops.stop_gradient(ops.cast(ops.greater(pre, threshold), pre.dtype))
    return ops.relu(pre) * mask


def jumprelu(pre: Any, threshold: Any, bandwidth: float) -> tuple[Any, Any]:
    """JumpReLU codes `pre * H(pre - threshold)` and the step `H` itself.

    The step has no useful derivative, so the threshold learns through the
    straight-through pseudo-derivative of Rajamanoharan et al. (2024): the delta
    of `H` is replaced by a rectangle kernel of width `bandwidth`, giving
    `dH/dθ = -K((pre - θ)/ε)/ε` and `d code/dθ = -θ K((pre - θ)/ε)/ε`, with
    `K(u) = 1[|u| < 1/2]`. The pre-activations get the ordinary gradient of the
    kept units. The returned step carries the threshold's pseudo-gradient, so an
    L0 penalty `sum(step)` trains the thresholds.
    """
    step = ops.cast(ops.greater(pre, threshold), pre.dtype)
    window = ops.cast(ops.less(ops.abs(pre - threshold), bandwidth / 2.0), pre.dtype)
    window = ops.stop_gradient(window / bandwidth)
    # `surrogate` is zero in value; its derivative in θ is -K/ε and in pre is 0.
    theta_term = threshold * window
    surrogate = ops.stop_gradient(theta_term) - theta_term
    held_step = ops.stop_gradient(step)
    codes = pre * held_step + ops.stop_gradient(threshold) * surrogate
    return codes, held_step + surrogate
