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


def unexplained(x: Any, x_hat: Any, reference: Any, variance: Any) -> Any:
    """Squared error of `x_hat` over the spread of `reference` about its mean.

    `variance` is the data's mean squared distance to its mean, set by `adapt`:
    then the loss is a plain sum over samples, so replicas' shares add up to the
    whole batch's. Until it is set (0) the batch's own spread stands in.
    """
    error = ops.sum(ops.square(x - x_hat))
    centred = reference - ops.mean(reference, axis=0, keepdims=True)
    batch = ops.cast(ops.shape(x)[0], "float32")
    spread = ops.where(variance > 0, variance * batch, ops.sum(ops.square(centred)))
    return error / ops.maximum(ops.stop_gradient(spread), 1e-12)


def across_replicas(fired: Any, batch: Any) -> tuple[Any, Any]:
    """Which latents fired anywhere in the global batch, and its size.

    Under `tf.distribute` each replica sees a slice; the dead-latent counters must
    agree on every replica, so the slices' results are combined (JAX shards one
    global array, so there is nothing to do).
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            # tf.distribute reduces only by sum or mean: a latent fired if any
            # replica saw it fire.
            fired = ops.cast(context.all_reduce("sum", fired) > 0, fired.dtype)
            batch = context.all_reduce("sum", batch)
    return fired, batch
