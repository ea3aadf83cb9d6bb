"""`MagnitudePruning`: gradual magnitude pruning as a plain Keras callback."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable

import keras
import numpy as np
from keras import ops

from sparsekit._validation import check_bool, check_choice, invalid_argument
from sparsekit.pruning._masks import MaskConstraint, compute_masks, prunable_kernels
from sparsekit.pruning.schedules import PruningSchedule

_JAX = keras.backend.backend() == "jax"


class MagnitudePruning(keras.callbacks.Callback):
    """Prunes the smallest-magnitude kernel weights during `fit` (Zhu & Gupta 2017).

    At each step where `schedule(step)` says to prune, the masks are recomputed:
    with `scope="layer"` each kernel of n weights gets exactly round(s_t * n) zeros at
    its smallest |w|; with `scope="global"` one ranking over all pruned kernels puts
    round(s_t * N) zeros at the smallest |w| anywhere (one global threshold, so
    layers end up with unequal sparsities). Ties are broken by position: the
    earliest weight is pruned first. The step is the optimizer's iteration count, so
    a resumed model continues its schedule.

    Layers are not wrapped, and pruned weights stay exactly zero through further
    training (optimizer momentum would otherwise revive them). On TensorFlow each
    pruned kernel gets a variable constraint that multiplies it by its mask after
    every optimizer update, inside the compiled train step: one multiply per kernel
    per step, also under `tf.distribute` (the masks are mirrored like the kernels)
    and with `steps_per_execution > 1`. The constraint is removed when `fit` ends; a
    layer's own `kernel_constraint` still applies before the mask. On JAX the jitted
    step would hold the masks as constants (a recompile per mask update), so the
    masks multiply the weights `fit` carries before every step and whenever they are
    written back to the variables (`model.jax_state_sync()`): callbacks always see
    masked weights, and with `steps_per_execution=k` the weights are re-masked every
    k steps.

    Saving: pruned weights are stored as exact zeros and the model config holds
    nothing of sparsekit. To continue pruning a loaded model, pass a new
    `MagnitudePruning` to `fit`: on train begin it re-derives each mask from the
    kernel's zeros (`restore_masks_from_zeros=True`), so pruned weights stay pruned
    until the schedule prunes further. With `steps_per_execution=k`, a scheduled step
    inside an execution is applied at the start of that execution (up to k - 1 steps
    early).

    Args:
        schedule: `PolynomialDecay`, `ConstantSparsity` or any callable mapping a
            step to `(should_prune, target_sparsity)`.
        layers: list of layer names or layer objects to prune, or None for every
            Dense, EinsumDense and Conv kernel (nested layers included).
            Defaults to None.
        scope: str, `"layer"` (one threshold per kernel) or `"global"` (one
            threshold over all pruned kernels). Defaults to `"layer"`.
        restore_masks_from_zeros: bool. On train begin, treat weights that are
            exactly zero as already pruned. Defaults to True.

    Example:

    >>> schedule = sk.pruning.PolynomialDecay(0.0, 0.8, begin_step=0, end_step=500)
    >>> model.fit(x, y, epochs=10, callbacks=[sk.pruning.MagnitudePruning(schedule)])
    >>> round(sk.pruning.weight_sparsity(model), 3)
    0.8
    """

    def __init__(
        self,
        schedule: PruningSchedule | Callable[[int], tuple[bool, float]],
        *,
        layers: Iterable[str | keras.layers.Layer] | None = None,
        scope: str = "layer",
        restore_masks_from_zeros: bool = True,
    ):
        super().__init__()
        if not callable(schedule):
            raise invalid_argument(
                "schedule",
                "a PruningSchedule or a callable step -> (bool, float)",
                schedule,
            )
        if layers is not None and not isinstance(
            layers, (str, keras.layers.Layer, list, tuple)
        ):
            raise invalid_argument(
                "layers", "None or a list of layer names or layers", layers
            )
        self.schedule = schedule
        self.layers = layers
        self.scope = check_choice("scope", scope, ("layer", "global"))
        self.restore_masks_from_zeros = check_bool(
            "restore_masks_from_zeros", restore_masks_from_zeros
        )
        self._layers: list[keras.layers.Layer] = []
        self._kernels: list[keras.Variable] = []
        self._mask_vars: list[keras.Variable] = []
        self._inner_constraints: list = []
        self._state_index: list = []
        self._step = 0
        self._checked = -1
        self._epoch_start = 0

    @property
    def masks(self) -> dict[str, np.ndarray]:
        """Current 0/1 mask of each pruned layer, by layer name."""
        return {
            layer.name: ops.convert_to_numpy(ops.convert_to_tensor(mask))
            for layer, mask in zip(self._layers, self._mask_vars, strict=True)
        }

    @property
    def step(self) -> int:
        """Optimizer steps taken, as seen by the schedule."""
        return self._step

    def on_train_begin(self, logs=None):
        model = self.model
        pairs = prunable_kernels(model, self.layers)
        if not pairs:
            raise ValueError(
                "MagnitudePruning found no Dense, EinsumDense or Conv kernel to prune "
                f"in model {model.name!r}; pass `layers=` explicitly."
            )
        kernels = [kernel for _, kernel in pairs]
        if not self._same_kernels(kernels):
            self._layers = [layer for layer, _ in pairs]
            self._kernels = kernels
            self._mask_vars = [self._new_mask(layer, k) for layer, k in pairs]
            self._reset_masks()
        elif self.restore_masks_from_zeros:
            self._reset_masks()
        self._mask_weights()
        self._step = self._iterations()
        self._checked = self._step - 1
        if _JAX:
            self._install_jax_hooks()
            return
        self._inner_constraints = [k.constraint for k in kernels]
        for kernel, mask in zip(kernels, self._mask_vars, strict=True):
            kernel.constraint = MaskConstraint(mask, kernel.constraint)
        # fit() may hold a step compiled without the constraints (an earlier fit).
        model.make_train_function(force=True)

    def on_epoch_begin(self, epoch, logs=None):
        # No on_train_batch_end hook: it would stop Keras dispatching batch
        # callbacks asynchronously and sync the device every step.
        self._epoch_start = self._iterations()

    def on_train_batch_begin(self, batch, logs=None):
        self._step = self._epoch_start + batch
        target = None
        # Every step since the last check, so steps_per_execution > 1 misses none.
        for step in range(self._checked + 1, self._step + 1):
            should_prune, sparsity = self.schedule(step)
            if should_prune:
                target = sparsity
        self._checked = self._step
        if target is not None:
            self._prune(float(target))
        elif _JAX:
            self._mask_jax_state()

    def on_epoch_end(self, epoch, logs=None):
        self._step = self._iterations()

    def on_train_end(self, logs=None):
        self._step = self._iterations()
        if _JAX:
            # Drop the instance override: the class method takes over again.
            vars(self.model).pop("jax_state_sync", None)
            return
        for kernel, inner in zip(self._kernels, self._inner_constraints, strict=True):
            kernel.constraint = inner
        # The compiled step still multiplies by the masks; rebuild it on next fit.
        self.model.train_function = None

    def _iterations(self) -> int:
        return int(ops.cast(self.model.optimizer.iterations, "int32"))

    def _same_kernels(self, kernels) -> bool:
        return len(kernels) == len(self._kernels) and all(
            a is b for a, b in zip(kernels, self._kernels, strict=True)
        )

    def _new_mask(self, layer, kernel) -> keras.Variable:
        strategy = getattr(self.model, "distribute_strategy", None)
        # Mirrored like the kernel, so each replica reads a local copy.
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            return keras.Variable(
                np.ones(kernel.shape, dtype=kernel.dtype),
                dtype=kernel.dtype,
                trainable=False,
                name=f"{layer.name}_pruning_mask",
            )

    def _reset_masks(self):
        for kernel, mask in zip(self._kernels, self._mask_vars, strict=True):
            if self.restore_masks_from_zeros:
                mask.assign(ops.cast(ops.not_equal(kernel, 0), mask.dtype))
            else:
                mask.assign(ops.ones(mask.shape, dtype=mask.dtype))

    def _mask_weights(self):
        for kernel, mask in zip(self._kernels, self._mask_vars, strict=True):
            kernel.assign(kernel * mask)

    def _prune(self, sparsity: float):
        if not 0.0 <= sparsity < 1.0:
            raise invalid_argument("target_sparsity", "a number in [0, 1)", sparsity)
        # JAX keeps the live weights in fit()'s state mid-epoch: write them back
        # (fit() then reads them again from the variables for its next step).
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            sync()
        masks = compute_masks(self._kernels, sparsity, self.scope)
        for mask_var, mask in zip(self._mask_vars, masks, strict=True):
            mask_var.assign(mask)
        self._mask_weights()

    # JAX: fit() carries the weights as a list of arrays through a jitted step,
    # which would hold the masks as compile-time constants (one recompile per mask
    # update). Instead the masks multiply that list before every step, and the
    # variables whenever the state is written back to them.

    def _install_jax_hooks(self):
        model = self.model
        ids = [id(v) for v in model.trainable_variables]
        self._state_index = [
            (ids.index(id(k)), mask)
            for k, mask in zip(self._kernels, self._mask_vars, strict=True)
            if id(k) in ids
        ]
        sync = type(model).jax_state_sync

        def jax_state_sync():
            sync(model)
            self._mask_weights()

        # Other callbacks (checkpoints, monitors) and fit() itself see the weights
        # only through this sync, so they always see them masked.
        vars(model)["jax_state_sync"] = jax_state_sync

    def _mask_jax_state(self):
        model = self.model
        state = getattr(model, "_jax_state", None)
        if state is None or getattr(model, "_jax_state_synced", True):
            return  # fit() reads the (already masked) variables next
        values = state["trainable_variables"]
        for index, mask in self._state_index:
            values[index] = values[index] * mask.value
