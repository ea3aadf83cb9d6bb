"""SparseAutoencoder: a dictionary of sparse latents learned from activations."""

from __future__ import annotations

import math
import threading
from typing import Any

import keras
import numpy as np
from keras import ops

from sparsekit._validation import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    invalid_argument,
)
from sparsekit.ops.topk import topk_mask
from sparsekit.sae import activations
from sparsekit.sae._losses import across_replicas, per_replica, unexplained
from sparsekit.sae.median import geometric_median

_SALT = 0x5AE
ACTIVATIONS = ("topk", "batchtopk", "jumprelu", "relu")
_PENALISED = ("jumprelu", "relu")


@keras.saving.register_keras_serializable(package="sparsekit")
class SparseAutoencoder(keras.Model):
    """A sparse autoencoder (SAE) with a unit-norm dictionary.

    Codes are `z = f(W_enc (x - b_pre) + b_enc)` and the reconstruction is
    `x_hat = z D + b_pre`, where the rows of `D` (the dictionary, one atom per
    latent) have unit norm and `f` is the sparse activation. `D` starts random and
    `W_enc` starts as its transpose (tied initialisation). The decoder is used as
    `W / ||W||` row by row and `W` is renormalised after every step, so the
    gradient has no component along an atom: the projection Gao et al. (2024)
    apply by hand comes from the parametrisation.

    The model trains itself: `compile(optimizer)` and `fit(x)` with no targets.
    The loss is the fraction of variance unexplained: the squared error over the
    variance of the data given to `adapt` (of each batch until `adapt` is called),
    so it does not depend on the data's scale. Added to it:

    - `"topk"`: nothing; each sample keeps its `k` largest pre-activations
      (Gao et al., 2024).
    - `"batchtopk"`: nothing; the batch keeps its `k * batch` largest, so `k` is
      the mean L0 (Bussmann et al., 2024). Inference uses a running estimate of the
      batch threshold instead, so a sample's code does not depend on its batch.
    - `"jumprelu"`: `sparsity_coef * L0`, with learned per-latent thresholds
      trained through a straight-through pseudo-gradient (Rajamanoharan et al.,
      2024).
    - `"relu"`: `sparsity_coef * sum_i z_i ||D_i||`, the L1 penalty weighted by the
      atoms' norms (which only matters with `normalize_decoder=False`).
    - with `aux_k`: `aux_coef` times the AuxK loss (Gao et al., 2024): the `aux_k`
      largest pre-activations among *dead* latents (none fired for `dead_after`
      training samples) reconstruct the residual `x - x_hat`, which gives dead
      latents a gradient towards what the live ones miss (its error is divided
      by the residual's variance, as in Gao et al.'s code).

    `fit` reports `fvu`, `l0` (mean active latents per sample) and
    `dead_fraction` in the history, beside `loss`.

    Args:
        n_latents: int, number of latents (dictionary atoms), at least 1.
        activation: str, one of `"topk"`, `"batchtopk"`, `"jumprelu"`, `"relu"`.
            Defaults to `"topk"`.
        k: int, latents kept per sample (`"topk"`, `"batchtopk"`), in
            `[1, n_latents]`; must be `None` for the other activations.
        sparsity_coef: float >= 0, weight of the L0 (`"jumprelu"`) or L1
            (`"relu"`) penalty; `None` takes 1e-3 for those and must stay `None`
            or 0 for the top-k activations, whose L0 is fixed by `k`.
        aux_k: int or `None`, dead latents used by the AuxK loss, in
            `[1, n_latents]`. Defaults to `None` (no AuxK loss).
        aux_coef: float >= 0, weight of the AuxK loss. Defaults to 1/32.
        dead_after: int >= 1, training samples without firing after which a
            latent counts as dead. Defaults to 10,000.
        normalize_decoder: bool, keep the atoms at unit norm. Defaults to `True`.
        tied_init: bool, start the encoder as the decoder's transpose; `False`
            draws it independently (scaled normal), the ablation in which Gao et
            al. saw most latents die. Defaults to `True`.
        bandwidth: float > 0, JumpReLU's pseudo-gradient window. Defaults to 1e-3.
        initial_threshold: float > 0, JumpReLU's starting thresholds. Defaults
            to 1e-3.
        threshold_momentum: float in [0, 1), decay of BatchTopK's running
            threshold. Defaults to 0.99.
        seed: int or `None`, seed of the initial dictionary. Defaults to `None`.

    Call arguments:
        x: tensor of shape `(batch, n_features)`.
        training: bool, training mode (updates the dead-latent counters and adds
            the penalties).

    Returns the reconstruction, of the shape of `x`.

    Example:

    >>> x = np.random.default_rng(0).normal(size=(256, 16)).astype("float32")
    >>> sae = sk.sae.SparseAutoencoder(64, activation="topk", k=4, seed=0)
    >>> sae.compile(keras.optimizers.Adam(1e-3))
    >>> history = sae.fit(x, epochs=1, batch_size=64, verbose=0)
    >>> sorted(history.history)
    ['dead_fraction', 'fvu', 'l0', 'loss']
    >>> sae.encode(x[:2]).shape
    (2, 64)
    """

    def __init__(
        self,
        n_latents: int,
        activation: str = "topk",
        k: int | None = None,
        *,
        sparsity_coef: float | None = None,
        aux_k: int | None = None,
        aux_coef: float = 1 / 32,
        dead_after: int = 10_000,
        normalize_decoder: bool = True,
        tied_init: bool = True,
        bandwidth: float = 1e-3,
        initial_threshold: float = 1e-3,
        threshold_momentum: float = 0.99,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.n_latents = check_int("n_latents", n_latents, low=1)
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        if self.activation in _PENALISED:
            if k is not None:
                raise invalid_argument(
                    "k", f"None for activation={activation!r} (no top-k)", k
                )
            coef = 1e-3 if sparsity_coef is None else sparsity_coef
        else:
            if k is None:
                raise invalid_argument(
                    "k", f"an integer in [1, {n_latents}] for {activation!r}", k
                )
            k = check_int("k", k, low=1, high=n_latents)
            if sparsity_coef not in (None, 0, 0.0):
                raise invalid_argument(
                    "sparsity_coef",
                    f"None or 0 for activation={activation!r} (k fixes the L0)",
                    sparsity_coef,
                )
            coef = 0.0
        self.k = k
        self.sparsity_coef = check_float("sparsity_coef", coef, low=0.0)
        self.aux_k = (
            None if aux_k is None else check_int("aux_k", aux_k, low=1, high=n_latents)
        )
        self.aux_coef = check_float("aux_coef", aux_coef, low=0.0)
        self.dead_after = check_int("dead_after", dead_after, low=1)
        self.normalize_decoder = check_bool("normalize_decoder", normalize_decoder)
        self.tied_init = check_bool("tied_init", tied_init)
        self.bandwidth = check_float(
            "bandwidth", bandwidth, low=0.0, low_inclusive=False
        )
        self.initial_threshold = check_float(
            "initial_threshold", initial_threshold, low=0.0, low_inclusive=False
        )
        self.threshold_momentum = check_float(
            "threshold_momentum",
            threshold_momentum,
            low=0.0,
            high=1.0,
            high_inclusive=False,
        )
        self.seed = seed if seed is None else check_int("seed", seed)
        self.fvu_tracker = keras.metrics.Mean(name="fvu")
        self.l0_tracker = keras.metrics.Mean(name="l0")
        self.dead_tracker = keras.metrics.Mean(name="dead_fraction")
        self.n_features = None
        # The penalties of the step being traced, from `call` to `compute_loss`.
        self._step_terms = threading.local()

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise invalid_argument(
                "input_shape",
                "(batch, n_features) with a known width",
                tuple(input_shape),
            )
        n, m = self.n_latents, int(input_shape[-1])
        self.n_features = m
        # Salted: the same integer seed elsewhere (e.g. a dataset's) must not
        # give the same draws, or the atoms could start at the true features.
        rng = np.random.default_rng(None if self.seed is None else [_SALT, self.seed])
        atoms = rng.normal(size=(n, m))
        atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
        encoder = atoms.T if self.tied_init else rng.normal(size=(m, n)) / np.sqrt(m)
        self.decoder_kernel = self.add_weight(
            name="decoder_kernel",
            shape=(n, m),
            initializer=keras.initializers.Constant(atoms),
            constraint=keras.constraints.UnitNorm(axis=1)
            if self.normalize_decoder
            else None,
        )
        self.encoder_kernel = self.add_weight(
            name="encoder_kernel",
            shape=(m, n),
            initializer=keras.initializers.Constant(encoder),
        )
        self.encoder_bias = self.add_weight(
            name="encoder_bias", shape=(n,), initializer="zeros"
        )
        self.pre_bias = self.add_weight(
            name="pre_bias", shape=(m,), initializer="zeros"
        )
        if self.activation == "jumprelu":
            # Stored as is, not as a log: Adam moves it by about the learning rate
            # per step, in the data's units, so short runs can still move it.
            self.threshold = self.add_weight(
                name="threshold",
                shape=(n,),
                initializer=keras.initializers.Constant(self.initial_threshold),
                constraint=keras.constraints.NonNeg(),
            )
        if self.activation == "batchtopk":
            # Bias-corrected running mean of the batch threshold (Adam-style).
            self.threshold_sum = self._state("threshold_sum", ())
            self.threshold_weight = self._state("threshold_weight", ())
        self.samples_since_fired = self._state("samples_since_fired", (n,))
        self.data_variance = self._state("data_variance", ())
        self.batch_l0 = self._state("batch_l0", ())

    def _state(self, name: str, shape: tuple) -> keras.Variable:
        return self.add_weight(
            name=name,
            shape=shape,
            initializer="zeros",
            trainable=False,
            dtype="float32",
            aggregation="mean",
        )

    # The maths -----------------------------------------------------------------

    def _atoms(self) -> Any:
        kernel = ops.cast(self.decoder_kernel, self.compute_dtype)
        if not self.normalize_decoder:
            return kernel
        norms = ops.sqrt(ops.sum(ops.square(kernel), axis=1, keepdims=True))
        return kernel / ops.maximum(norms, 1e-12)

    def _pre_activations(self, x: Any) -> Any:
        x = ops.cast(x, self.compute_dtype)
        centred = x - ops.cast(self.pre_bias, self.compute_dtype)
        return ops.matmul(centred, ops.cast(self.encoder_kernel, x.dtype)) + ops.cast(
            self.encoder_bias, x.dtype
        )

    def _threshold(self) -> Any:
        return ops.cast(self.threshold, self.compute_dtype)

    def _codes(self, pre: Any, training: bool) -> tuple[Any, Any]:
        """Codes and the sparsity penalty per sample (zero for top-k)."""
        zero = ops.zeros((ops.shape(pre)[0],), pre.dtype)
        if self.activation == "topk":
            return activations.topk(pre, self.k), zero
        if self.activation == "batchtopk":
            if not training:
                return activations.above(pre, self.inference_threshold()), zero
            codes, threshold = activations.batch_topk(pre, self.k)
            m = self.threshold_momentum
            self.threshold_sum.assign(
                m * self.threshold_sum + (1 - m) * ops.cast(threshold, "float32")
            )
            self.threshold_weight.assign(m * self.threshold_weight + (1 - m))
            return codes, zero
        if self.activation == "jumprelu":
            codes, step = activations.jumprelu(pre, self._threshold(), self.bandwidth)
            return codes, ops.sum(step, axis=1)
        codes = ops.relu(pre)
        norms = ops.sqrt(ops.sum(ops.square(self._atoms()), axis=1))
        return codes, ops.sum(codes * norms, axis=1)

    def inference_threshold(self) -> Any:
        """BatchTopK's running threshold, used outside training."""
        return ops.cast(
            self.threshold_sum / ops.maximum(self.threshold_weight, 1e-12),
            self.compute_dtype,
        )

    def call(self, x: Any, training: bool | None = None) -> Any:
        pre = self._pre_activations(x)
        codes, penalty = self._codes(pre, bool(training))
        atoms = self._atoms()
        x_hat = ops.matmul(codes, atoms) + ops.cast(self.pre_bias, codes.dtype)
        active = ops.cast(ops.greater(codes, 0), "float32")
        self.batch_l0.assign(ops.mean(ops.sum(active, axis=1)))
        if training:
            dead = ops.greater_equal(self.samples_since_fired, self.dead_after)
            extra = ops.zeros((), "float32")
            if self.sparsity_coef > 0:
                extra += self.sparsity_coef * ops.cast(ops.mean(penalty), "float32")
            if self.aux_k is not None and self.aux_coef > 0:
                aux = self._aux_loss(ops.cast(x, pre.dtype), x_hat, pre, dead, atoms)
                extra += self.aux_coef * ops.cast(aux, "float32")
            # Not `add_loss`: under tf.distribute the replicas' threads share the
            # layer's loss list and switch at the all-reduce below, so each
            # replica's compute_loss saw both replicas' terms. A thread-local slot
            # is read by this replica's own compute_loss.
            self._step_terms.extra = extra
            fired, batch = across_replicas(
                ops.max(active, axis=0), ops.cast(ops.shape(x)[0], "float32")
            )
            self.samples_since_fired.assign(
                (self.samples_since_fired + batch) * (1.0 - fired)
            )
        return x_hat

    def _aux_loss(self, x, x_hat, pre, dead, atoms) -> Any:
        """AuxK: the top `aux_k` dead latents reconstruct the live ones' residual.

        Normalised by the residual's own spread over the batch, as in Gao et al.'s
        released code, so `aux_coef` means what it means there (a batch
        statistic: under tf.distribute, each replica's slice's spread).
        """
        dead = ops.cast(dead, pre.dtype)
        candidates = ops.where(dead > 0, pre, ops.full_like(pre, -math.inf))
        mask = ops.stop_gradient(topk_mask(candidates, self.aux_k) * dead)
        residual = ops.stop_gradient(x - x_hat)
        aux_hat = ops.matmul(ops.relu(pre) * mask, atoms)
        aux = unexplained(residual, aux_hat, residual, ops.zeros((), "float32"))
        return ops.where(ops.sum(dead) > 0, aux, ops.zeros_like(aux))

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        if y is not None or sample_weight is not None:
            raise ValueError(
                "SparseAutoencoder trains on its inputs alone: call fit(x) without "
                f"targets or sample weights. Received: y={type(y).__name__}, "
                f"sample_weight={type(sample_weight).__name__}"
            )
        x = ops.cast(x, "float32")
        fvu = unexplained(x, ops.cast(y_pred, "float32"), x, self.data_variance)
        loss = fvu
        extra = getattr(self._step_terms, "extra", None) if training else None
        if extra is not None:
            loss = loss + extra
        self._step_terms.extra = None
        dead = ops.greater_equal(self.samples_since_fired, self.dead_after)
        self.fvu_tracker.update_state(fvu)
        self.l0_tracker.update_state(self.batch_l0)
        self.dead_tracker.update_state(ops.mean(ops.cast(dead, "float32")))
        return per_replica(loss)

    # The user's view -------------------------------------------------------------

    def encode(self, x: Any) -> Any:
        """Codes of `x` (inference mode), shape `(batch, n_latents)`."""
        return self._codes(self._pre_activations(self._checked(x)), False)[0]

    def decode(self, codes: Any) -> Any:
        """Reconstruction from codes of shape `(batch, n_latents)`."""
        self._require_built("decode")
        codes = ops.cast(ops.convert_to_tensor(codes), self.compute_dtype)
        if len(codes.shape) != 2 or codes.shape[-1] != self.n_latents:
            raise invalid_argument(
                "codes", f"shape (batch, {self.n_latents})", tuple(codes.shape)
            )
        return ops.matmul(codes, self._atoms()) + ops.cast(self.pre_bias, codes.dtype)

    @property
    def dictionary(self) -> np.ndarray:
        """The atoms as a NumPy array `(n_latents, n_features)`, unit-norm rows."""
        self._require_built("dictionary")
        return ops.convert_to_numpy(ops.cast(self._atoms(), "float32"))

    def dead_latents(self) -> np.ndarray:
        """Boolean mask of latents that have not fired for `dead_after` samples."""
        self._require_built("dead_latents")
        counts = ops.convert_to_numpy(self.samples_since_fired)
        return counts >= self.dead_after

    def adapt(self, x: Any, *, n_iter: int = 100) -> SparseAutoencoder:
        """Fits the data statistics training starts from; builds the model if needed.

        The pre-encoder bias becomes the geometric median of `x` (Weiszfeld), as
        Bricken et al. (2023) and Gao et al. (2024) start it, and the loss's
        variance becomes that of `x` (mean squared distance to its mean), so the
        loss scales like Gao et al.'s inverse-variance MSE and adds up exactly
        across replicas. Returns the model.
        """
        x = np.asarray(ops.convert_to_numpy(self._checked(x, build=True)), "float64")
        self.pre_bias.assign(geometric_median(x, n_iter=n_iter).astype("float32"))
        spread = np.mean(np.sum(np.square(x - x.mean(axis=0)), axis=1))
        self.data_variance.assign(np.float32(spread))
        return self

    def _checked(self, x: Any, *, build: bool = False) -> Any:
        x = ops.convert_to_tensor(x)
        if len(x.shape) != 2:
            raise invalid_argument("x", "a 2-D array (batch, n_features)", x.shape)
        if not self.built:
            if not build:
                self._require_built("encode")
            self.build(tuple(x.shape))
        if x.shape[-1] != self.n_features:
            raise invalid_argument(
                "x", f"width {self.n_features} (n_features)", tuple(x.shape)
            )
        return x

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(
                f"SparseAutoencoder.{what} needs a built model: call fit, adapt or "
                "the model on data first."
            )

    def get_config(self) -> dict:
        config = {
            "n_latents": self.n_latents,
            "activation": self.activation,
            "k": self.k,
            "sparsity_coef": self.sparsity_coef if self.k is None else None,
            "aux_k": self.aux_k,
            "aux_coef": self.aux_coef,
            "dead_after": self.dead_after,
            "normalize_decoder": self.normalize_decoder,
            "tied_init": self.tied_init,
            "bandwidth": self.bandwidth,
            "initial_threshold": self.initial_threshold,
            "threshold_momentum": self.threshold_momentum,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}
