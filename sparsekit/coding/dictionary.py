"""Online dictionary learning with FISTA codes (Mairal et al. 2009)."""

from __future__ import annotations

from typing import Any

import numpy as np
from keras import ops
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError

from sparsekit._validation import check_bool, check_float, check_int
from sparsekit.coding import proximal
from sparsekit.coding._checks import array_error, check_matrix
from sparsekit.coding._compile import compiled

# An atom whose accumulated code energy stays below this is unused: resample it.
_DEAD_ATOM = 1e-6


class DictionaryLearning(TransformerMixin, BaseEstimator):
    """Learns a dictionary of unit-norm atoms whose sparse codes rebuild the data.

    Minimises, over codes C `(n_samples, n_atoms)` and dictionary D
    `(n_atoms, n_features)` with `||D_j|| = 1`,

        mean_i  0.5 * ||x_i - c_i D||² + lam * ||c_i||₁

    by alternating, on shuffled minibatches: codes by `fista` (`code_n_iter`
    iterations, D fixed), then the online dictionary update of Mairal et al.
    (2009): the sufficient statistics `A = Σ cᵀc` and `B = Σ cᵀx` (with
    scikit-learn's forgetting factor) are accumulated and each atom is updated by
    one pass of block coordinate descent, `d_j ← d_j + (b_j - a_j D) / A_jj`,
    then renormalised to unit norm. Atoms that are (almost) never used are
    replaced by a random sample of the batch. Same problem as
    `sklearn.decomposition.MiniBatchDictionaryLearning(alpha=lam)`.

    The FISTA loop and the atom update are compiled once per minibatch shape
    and dtype: `lam` and `code_n_iter` reach them as tensors, so fitting with
    other values of them (a grid search, `clone`) does not retrace.

    Args:
        n_atoms: int >= 1, number of atoms (rows of the dictionary).
        lam: float >= 0, the L1 weight of the codes.
        n_iter: int >= 1, number of passes (epochs) over the data.
            Defaults to `10`.
        batch_size: int >= 1, samples per minibatch. Defaults to `256`.
        code_n_iter: int >= 1, FISTA iterations per minibatch and in
            `transform`. Defaults to `50`.
        seed: int >= 0, seeds the initial atoms (random samples of `x`), the
            shuffling and the resampling of unused atoms. Defaults to `0`.
        positive_code: bool, constrain codes to be non-negative.
            Defaults to `False`.
        verbose: bool, print the objective after each epoch. Defaults to `False`.

    Attributes:
        components_: numpy array `(n_atoms, n_features)`, the unit-norm atoms.
        error_: numpy array `(n_iter,)`, the objective averaged over the samples
            of each epoch (each minibatch coded before its dictionary update).
        n_iter_: int, number of epochs run.

    Example:

    >>> import numpy as np, sparsekit as sk
    >>> x = np.random.default_rng(0).normal(size=(500, 16))
    >>> learner = sk.coding.DictionaryLearning(32, lam=0.1, n_iter=2).fit(x)
    >>> learner.components_.shape
    (32, 16)
    >>> codes = learner.transform(x)  # (500, 32) numpy array
    """

    def __init__(
        self,
        n_atoms: int,
        lam: float,
        *,
        n_iter: int = 10,
        batch_size: int = 256,
        code_n_iter: int = 50,
        seed: int = 0,
        positive_code: bool = False,
        verbose: bool = False,
    ):
        check_int("n_atoms", n_atoms, low=1)
        check_float("lam", lam, low=0.0)
        check_int("n_iter", n_iter, low=1)
        check_int("batch_size", batch_size, low=1)
        check_int("code_n_iter", code_n_iter, low=1)
        check_int("seed", seed, low=0)
        check_bool("positive_code", positive_code)
        check_bool("verbose", verbose)
        # Stored unchanged so scikit-learn's `clone`/`get_params` work.
        self.n_atoms = n_atoms
        self.lam = lam
        self.n_iter = n_iter
        self.batch_size = batch_size
        self.code_n_iter = code_n_iter
        self.seed = seed
        self.positive_code = positive_code
        self.verbose = verbose

    def fit(self, x: Any, y: Any = None) -> DictionaryLearning:
        """Learns the dictionary from `x` `(n_samples, n_features)`; returns self."""
        x = check_matrix("x", x)
        n_samples = ops.shape(x)[0]
        rng = np.random.default_rng(self.seed)
        dictionary = ops.convert_to_tensor(
            _initial_atoms(ops.convert_to_numpy(x), self.n_atoms, rng), dtype=x.dtype
        )
        stats_a = ops.zeros((self.n_atoms, self.n_atoms), dtype=x.dtype)
        stats_b = ops.zeros(ops.shape(dictionary), dtype=x.dtype)
        batch = min(self.batch_size, n_samples)
        step, errors = 0, []
        for epoch in range(self.n_iter):
            order = rng.permutation(n_samples)
            total = 0.0
            for start in range(0, n_samples, batch):
                xb = ops.take(x, order[start : start + batch], axis=0)
                codes, _, _ = proximal._kernel(
                    xb,
                    dictionary,
                    self.lam,
                    n_iter=self.code_n_iter,
                    tol=None,
                    positive=self.positive_code,
                    init=None,
                    accelerated=True,
                    history=False,
                )
                loss = proximal.objective(xb, codes, dictionary, self.lam)
                total += float(ops.convert_to_numpy(ops.sum(loss)))
                beta = _forgetting(step, batch)
                size = ops.shape(xb)[0]
                stats_a = (
                    beta * stats_a + ops.matmul(ops.transpose(codes), codes) / size
                )
                stats_b = beta * stats_b + ops.matmul(ops.transpose(codes), xb) / size
                spare = ops.take(xb, rng.integers(0, size, self.n_atoms), axis=0)
                dictionary = _update_atoms(dictionary, stats_a, stats_b, spare)
                step += 1
            errors.append(total / n_samples)
            if self.verbose:
                print(
                    f"DictionaryLearning epoch {epoch + 1}: objective {errors[-1]:.6g}"
                )
        self.components_ = np.asarray(ops.convert_to_numpy(dictionary))
        self.error_ = np.asarray(errors)
        self.n_iter_ = self.n_iter
        self.n_features_in_ = self.components_.shape[1]
        return self

    def transform(self, x: Any) -> np.ndarray:
        """FISTA codes of x `(n_samples, n_features)`, numpy `(n_samples, n_atoms)`."""
        if not hasattr(self, "components_"):
            raise NotFittedError("DictionaryLearning is not fitted yet: call fit(x).")
        x = check_matrix("x", x)
        if ops.shape(x)[1] != self.n_features_in_:
            shape = tuple(ops.shape(x))
            raise array_error(
                "x", f"{self.n_features_in_} features as in fit", f"x.shape={shape}"
            )
        codes, _, _ = proximal._kernel(
            x,
            ops.convert_to_tensor(self.components_, dtype=x.dtype),
            self.lam,
            n_iter=self.code_n_iter,
            tol=None,
            positive=self.positive_code,
            init=None,
            accelerated=True,
            history=False,
        )
        return np.asarray(ops.convert_to_numpy(codes))


def _initial_atoms(x: np.ndarray, n_atoms: int, rng: np.random.Generator):
    """Random samples of `x`, normalised; Gaussian atoms where a sample is ~0."""
    n_samples = x.shape[0]
    picks = rng.choice(n_samples, n_atoms, replace=n_atoms > n_samples)
    atoms = x[picks] + 1e-3 * x.std() * rng.standard_normal((n_atoms, x.shape[1]))
    norms = np.linalg.norm(atoms, axis=1, keepdims=True)
    flat = norms[:, 0] < 1e-12
    atoms[flat] = rng.standard_normal((int(flat.sum()), x.shape[1]))
    return atoms / np.linalg.norm(atoms, axis=1, keepdims=True)


def _forgetting(step: int, batch_size: int) -> float:
    """scikit-learn's weight on past statistics (MiniBatchDictionaryLearning)."""
    if step < batch_size - 1:
        theta = (step + 1) * batch_size
    else:
        theta = batch_size**2 + step + 1 - batch_size
    return (theta + 1 - batch_size) / (theta + 1)


@compiled()
def _update_atoms(dictionary, stats_a, stats_b, spare):
    """One block-coordinate pass over the atoms; keeps every atom unit norm."""
    n_atoms = ops.shape(dictionary)[0]

    def body(j, atoms):
        a_j = ops.take(stats_a, j, axis=0)  # (n_atoms,)
        a_jj = ops.take(a_j, j)
        d_j = ops.take(atoms, j, axis=0)
        grad = ops.take(stats_b, j, axis=0) - ops.matmul(a_j, atoms)
        u = d_j + grad / ops.maximum(a_jj, _DEAD_ATOM)
        u = ops.where(a_jj < _DEAD_ATOM, ops.take(spare, j, axis=0), u)
        norm = ops.sqrt(ops.sum(ops.square(u)))
        u = ops.where(norm > 1e-12, u / ops.maximum(norm, 1e-12), d_j)
        one_hot = ops.one_hot(j, n_atoms, dtype=atoms.dtype)
        return atoms + one_hot[:, None] * (u - d_j)[None, :]

    return ops.fori_loop(0, n_atoms, body, dictionary)
