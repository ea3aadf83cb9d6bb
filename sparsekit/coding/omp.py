"""Orthogonal matching pursuit (Pati et al. 1993), batched over samples."""

from __future__ import annotations

from typing import Any

from keras import ops

from sparsekit._validation import check_float, check_int
from sparsekit.coding._checks import (
    array_error,
    check_signals_and_dictionary,
)
from sparsekit.coding._compile import compiled


def omp(x: Any, dictionary: Any, n_nonzero: int, *, tol: float | None = None) -> Any:
    """Orthogonal matching pursuit: greedy codes with at most `n_nonzero` atoms.

    For each sample, starting from the residual `r = x`, pick the atom most
    correlated with the residual, `j = argmax_j |r · D_j| / ||D_j||`, then refit
    all chosen atoms by least squares, `c_S = argmin ||x - c_S D_S||²`, and update
    `r = x - c_S D_S`; repeat `n_nonzero` times. The same algorithm as
    `sklearn.linear_model.orthogonal_mp` (Gram/Cholesky variant); all samples run
    together as batched `keras.ops` (Gram-Schmidt in atom coordinates, no
    solves). A selected atom that is numerically dependent on those already
    chosen gets a zero coefficient.

    Args:
        x: array or tensor `(n_samples, n_features)`, the signals.
        dictionary: array or tensor `(n_atoms, n_features)`, one atom per row;
            atoms should be linearly independent in groups of `n_nonzero`
            (unit norm is usual; the selection normalises them anyway).
        n_nonzero: int in `[1, min(n_atoms, n_features)]`, the maximum number
            of atoms per sample.
        tol: float >= 0 or `None`. A sample stops adding atoms once its squared
            residual norm `||x - c D||²` is `<= tol` (scikit-learn's `tol`;
            unlike scikit-learn it does not lift the `n_nonzero` cap).
            Defaults to `None` (always `n_nonzero` atoms).

    Returns:
        codes, a backend tensor `(n_samples, n_atoms)` of `keras.config.floatx()`
        with at most `n_nonzero` non-zeros per row.

    The loop runs as one `tf.function` / `jax.jit` program per input shape and
    dtype and per value of `n_nonzero`, which sizes the loop's state (the chosen
    atoms and their orthogonalisation); `tol` is passed to it as a tensor, so
    sweeping `tol` does not retrace.

    Example:

    >>> import numpy as np, sparsekit as sk
    >>> rng = np.random.default_rng(0)
    >>> D = rng.normal(size=(32, 16)); x = rng.normal(size=(5, 16))
    >>> codes = sk.coding.omp(x, D, n_nonzero=3)  # 3 non-zeros per row
    """
    x, dictionary = check_signals_and_dictionary(x, dictionary)
    norms = ops.sqrt(ops.sum(ops.square(dictionary), axis=1))
    if not bool(ops.convert_to_numpy(ops.all(norms > 0))):
        raise array_error("dictionary", "atoms of non-zero norm", "a zero atom")
    n_atoms = ops.shape(dictionary)[0]
    high = min(n_atoms, ops.shape(x)[1])
    n_nonzero = check_int("n_nonzero", n_nonzero, low=1, high=high)
    tol = None if tol is None else check_float("tol", tol, low=0.0)
    return _kernel(x, dictionary, n_nonzero, tol)


def _kernel(x, dictionary, n_nonzero, tol):
    """OMP on validated float tensors."""
    tol = -1.0 if tol is None else tol
    return _omp_loop(
        x, dictionary, ops.convert_to_tensor(tol, dtype=x.dtype), n_nonzero=n_nonzero
    )


@compiled(static_argnames=("n_nonzero",))
def _omp_loop(x, dictionary, tol, *, n_nonzero):
    """Gram-Schmidt OMP in atom coordinates: no linear solves, only einsums.

    Row `i` of `p` (n, K, K) holds the chosen-atom coefficients of the i-th
    orthonormalised atom, q_i = sum_m p[i, m] D[idx[m]], so `pᵀp = G_SS⁻¹` and the
    least-squares codes are updated one orthogonal direction at a time.
    """
    dtype = x.dtype
    n_samples = ops.shape(x)[0]
    n_atoms = ops.shape(dictionary)[0]
    gram = ops.matmul(dictionary, ops.transpose(dictionary))
    atom_sq = ops.diagonal(gram)
    inv_norm = 1.0 / ops.sqrt(atom_sq)
    xdt = ops.matmul(x, ops.transpose(dictionary))  # (n, n_atoms) = x · D_j
    residual_sq = ops.sum(ops.square(x), axis=1)

    def body(step, state):
        correlation, chosen, active, idx, p, coef, residual_sq = state
        slot = ops.one_hot(step, n_nonzero, dtype=dtype)
        score = ops.where(chosen, -1.0, ops.abs(correlation) * inv_norm)
        new = ops.cast(ops.argmax(score, axis=1), "int32")
        idx = idx + new[:, None] * ops.cast(slot, "int32")
        chosen = ops.logical_or(chosen, ops.one_hot(new, n_atoms, dtype="bool"))
        # Orthogonalise the new atom against q_1..q_{step}.
        h = ops.take_along_axis(ops.take(gram, new, axis=0), idx, axis=1)
        proj = ops.einsum("nim,nm->ni", p, h)  # q_i · D_new
        u = slot - ops.einsum("nim,ni->nm", p, proj)
        new_sq = ops.take(atom_sq, new)
        norm_sq = new_sq - ops.sum(ops.square(proj), axis=1)
        # A (numerically) dependent atom or a finished sample adds nothing.
        keep = ops.logical_and(active, norm_sq > 1e-6 * new_sq)
        scale = ops.where(keep, 1.0 / ops.sqrt(ops.maximum(norm_sq, 1e-30)), 0.0)
        p_new = u * scale[:, None]
        p = p + slot[None, :, None] * p_new[:, None, :]
        # Project the residual on q_new = p_new · D_S.
        weight = ops.sum(p_new * ops.take_along_axis(xdt, idx, axis=1), axis=1)
        coef = coef + weight[:, None] * p_new
        rows = ops.take(gram, idx, axis=0)  # (n, K, n_atoms): G_S
        correlation = correlation - weight[:, None] * ops.einsum(
            "nk,nka->na", p_new, rows
        )
        residual_sq = residual_sq - ops.square(weight)
        active = ops.logical_and(active, residual_sq > tol)
        return correlation, chosen, active, idx, p, coef, residual_sq

    state = (
        xdt,  # r · D_j for the current residual r
        ops.zeros((n_samples, n_atoms), dtype="bool"),
        residual_sq > tol,
        ops.zeros((n_samples, n_nonzero), dtype="int32"),
        ops.zeros((n_samples, n_nonzero, n_nonzero), dtype=dtype),
        ops.zeros((n_samples, n_nonzero), dtype=dtype),
        residual_sq,
    )
    # Fixed shapes across steps: one compiled loop body whatever n_nonzero is.
    _, _, _, idx, _, coef, _ = ops.fori_loop(0, n_nonzero, body, state)
    return ops.einsum("nk,nka->na", coef, ops.one_hot(idx, n_atoms, dtype=dtype))
