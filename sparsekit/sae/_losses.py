"""Loss pieces shared by the SAE's training step."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


def per_replica(loss: Any) -> Any:
    """Divides by the replica count under `tf.distribute`, as Keras' own losses do.

    Replicas' gradients are summed, so each must return its share of the loss;
    Keras' helper for this is private, hence the public TensorFlow call.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            loss = loss / replicas
    return loss


def unexplained(x: Any, x_hat: Any, reference: Any) -> Any:
    """Squared error of `x_hat` over the variance of `reference` about its mean."""
    error = ops.sum(ops.square(x - x_hat))
    centred = reference - ops.mean(reference, axis=0, keepdims=True)
    return error / ops.maximum(ops.stop_gradient(ops.sum(ops.square(centred))), 1e-12)
