"""Proximal-gradient sparse coding: soft thresholding, ISTA and FISTA.

Every sample solves the lasso problem

    min_c  0.5 * ||x - c D||² + lam * ||c||₁

with x `(n_features,)`, dictionary D `(n_atoms, n_features)` and code c `(n_atoms,)`:
the problem `sklearn.decomposition.sparse_encode(x, D, alpha=lam,
algorithm="lasso_cd")` solves (scikit-learn divides `alpha` by `n_features` before
calling `Lasso`, whose loss is itself divided by `n_features`, so `lam` here equals
`alpha` there).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from keras import ops

from sparsekit._validation import check_bool, check_float, check_int
from sparsekit.coding._checks import (
    array_error,
    check_matrix,
    check_signals_and_dictionary,
)
from sparsekit.coding._compile import compiled

_TINY = 1e-30


def soft_threshold(x: Any, lam: Any) -> Any:
    """Soft thresholding, the proximal operator of `lam * ||.||₁`.

    `soft_threshold(x, lam) = sign(x) * max(|x| - lam, 0)`, elementwise.

    Args:
        x: tensor or array of any shape.
        lam: float or tensor broadcastable to `x`, the threshold (>= 0).

    Returns:
        A tensor of the shape and dtype of `x`.

    Example:

    >>> import sparsekit as sk
    >>> sk.coding.soft_threshold([-2.0, 0.5, 3.0], 1.0)  # -> [-1., 0., 2.]
    """
    if isinstance(lam, (int, float)):
        check_float("lam", lam, low=0.0)
    x = ops.convert_to_tensor(x)
    lam = ops.cast(lam, x.dtype)
    return ops.sign(x) * ops.maximum(ops.abs(x) - lam, 0)


def _lipschitz(dictionary):
    """λ_max(D Dᵀ), the Lipschitz constant of the gradient of 0.5‖x − cD‖².

    Computed on the smaller of D Dᵀ and Dᵀ D (same non-zero spectrum).
    """
    n_atoms, n_features = ops.shape(dictionary)
    if n_atoms <= n_features:
        small = ops.matmul(dictionary, ops.transpose(dictionary))
    else:
        small = ops.matmul(ops.transpose(dictionary), dictionary)
    return ops.max(ops.eigh(small)[0])


def lasso_objective(x: Any, codes: Any, dictionary: Any, lam: float) -> Any:
    """The lasso objective every solver here minimises, one value per sample.

    `0.5 * ||x_i - c_i D||² + lam * ||c_i||₁` for each row `i`; its mean over the
    samples is what `ista`/`fista` record with `return_history=True`, and what
    `sklearn.decomposition.sparse_encode(x, D, alpha=lam, algorithm="lasso_cd")`
    minimises too.

    Args:
        x: array `(n_samples, n_features)`, the signals.
        codes: array `(n_samples, n_atoms)`.
        dictionary: array `(n_atoms, n_features)`.
        lam: float >= 0, the weight of the L1 term.

    Returns:
        A tensor `(n_samples,)`.

    Example:

    >>> import numpy as np, sparsekit as sk
    >>> d = np.eye(2, dtype="float32")
    >>> sk.coding.lasso_objective([[1.0, 0.0]], [[0.5, 0.0]], d, 1.0)  # -> [0.625]
    """
    lam = check_float("lam", lam, low=0.0)
    x, dictionary = check_signals_and_dictionary(x, dictionary)
    n_samples, n_atoms = ops.shape(x)[0], ops.shape(dictionary)[0]
    codes = check_matrix(
        "codes",
        codes,
        n_rows=(n_samples, f"{n_samples} rows, one per row of x"),
        n_cols=(n_atoms, f"{n_atoms} columns, one per atom of the dictionary"),
    )
    return objective(x, codes, dictionary, lam)


def objective(x, codes, dictionary, lam):
    """`lasso_objective` without the checks, for use inside compiled loops."""
    residual = x - ops.matmul(codes, dictionary)
    return 0.5 * ops.sum(residual * residual, axis=1) + lam * ops.sum(
        ops.abs(codes), axis=1
    )


def ista_operators(dictionary):
    """`(step, encoder, inhibition)` that write one ISTA step as an affine map.

    With `step = 1/L`, `encoder = Dᵀ / L` `(n_features, n_atoms)` and
    `inhibition = I - D Dᵀ / L` `(n_atoms, n_atoms)`, the gradient step
    `c - (c D Dᵀ - x Dᵀ) / L` is `c @ inhibition + x @ encoder`: one matmul per
    iteration (and the parametrisation LISTA learns).
    """
    step = 1.0 / _lipschitz(dictionary)
    gram = ops.matmul(dictionary, ops.transpose(dictionary))
    eye = ops.eye(ops.shape(dictionary)[0], dtype=dictionary.dtype)
    return step, ops.transpose(dictionary) * step, eye - gram * step


def shrink(v, thresh, positive: bool = False):
    """`soft_threshold` as `v - clip(v, -t, t)` (two passes); `relu(v - t)` if
    `positive`."""
    if positive:
        return ops.maximum(v - thresh, 0)
    return v - ops.clip(v, -thresh, thresh)


@compiled(static_argnames=("n_iter", "positive", "accelerated", "history", "use_tol"))
def _loop(
    x,
    dictionary,
    inhibition,
    drive,
    thresh,
    lam,
    tol,
    init,
    *,
    n_iter,
    positive,
    accelerated,
    history,
    use_tol,
):
    """Runs at most `n_iter` (F)ISTA steps in one `while_loop`."""
    dtype = init.dtype

    def cond(k, z, y, t, rel, hist):
        if use_tol:
            return ops.logical_and(k < n_iter, rel > tol)
        return k < n_iter

    def body(k, z, y, t, rel, hist):
        z_new = shrink(ops.matmul(y, inhibition) + drive, thresh, positive)
        if accelerated:  # Beck & Teboulle 2009, momentum (t_k - 1) / t_{k+1}
            t_new = 0.5 * (1.0 + ops.sqrt(1.0 + 4.0 * t * t))
            y_new = z_new + ((t - 1.0) / t_new) * (z_new - z)
        else:
            t_new, y_new = t, z_new
        if use_tol:  # Frobenius norms over the whole batch
            change = ops.sqrt(ops.sum(ops.square(z_new - z)))
            rel = change / ops.maximum(ops.sqrt(ops.sum(ops.square(z_new))), _TINY)
        if history:
            value = ops.mean(objective(x, z_new, dictionary, lam))
            hist = hist + ops.one_hot(k, n_iter, dtype=dtype) * value
        return k + 1, z_new, y_new, t_new, rel, hist

    state = (
        ops.convert_to_tensor(0, dtype="int32"),
        init,
        init,
        ops.convert_to_tensor(1.0, dtype=dtype),
        ops.convert_to_tensor(np.inf, dtype=dtype),
        ops.zeros((n_iter if history else 1,), dtype=dtype),
    )
    k, z, _, _, _, hist = ops.while_loop(cond, body, state)
    return z, k, hist


def _kernel(x, dictionary, lam, *, n_iter, tol, positive, init, accelerated, history):
    """(F)ISTA on validated float tensors; returns `(codes, n_iter_run, history)`."""
    dtype = x.dtype
    step, encoder, inhibition = ista_operators(dictionary)
    lam = ops.convert_to_tensor(lam, dtype=dtype)
    if init is None:
        init = ops.zeros((ops.shape(x)[0], ops.shape(dictionary)[0]), dtype=dtype)
    return _loop(
        x,
        dictionary,
        inhibition,
        ops.matmul(x, encoder),
        ops.cast(lam * step, dtype),
        lam,
        ops.convert_to_tensor(0.0 if tol is None else tol, dtype=dtype),
        init,
        n_iter=n_iter,
        positive=positive,
        accelerated=accelerated,
        history=history,
        use_tol=tol is not None,
    )


def _validate(x, dictionary, lam, n_iter, tol, positive, init, return_history):
    x, dictionary = check_signals_and_dictionary(x, dictionary)
    if not bool(ops.convert_to_numpy(ops.any(dictionary != 0))):
        raise array_error("dictionary", "at least one non-zero atom", "all zeros")
    if init is not None:
        shape = (ops.shape(x)[0], ops.shape(dictionary)[0])
        init = check_matrix(
            "init",
            init,
            n_rows=(shape[0], f"shape {shape} (n_samples, n_atoms)"),
            n_cols=(shape[1], f"shape {shape} (n_samples, n_atoms)"),
        )
    options = dict(
        lam=check_float("lam", lam, low=0.0),
        n_iter=check_int("n_iter", n_iter, low=1),
        tol=None if tol is None else check_float("tol", tol, low=0.0),
        positive=check_bool("positive", positive),
        init=init,
        history=check_bool("return_history", return_history),
    )
    return x, dictionary, options


def _solve(x, dictionary, lam, accelerated, **kwargs):
    x, dictionary, options = _validate(x, dictionary, lam, **kwargs)
    codes, k, hist = _kernel(x, dictionary, accelerated=accelerated, **options)
    if not options["history"]:
        return codes
    return codes, np.asarray(ops.convert_to_numpy(hist))[: int(k)]


def ista(
    x: Any,
    dictionary: Any,
    lam: float,
    *,
    n_iter: int = 100,
    tol: float | None = None,
    positive: bool = False,
    init: Any = None,
    return_history: bool = False,
) -> Any:
    """Iterative shrinkage-thresholding (ISTA), batched over samples.

    Minimises `0.5*||x - c D||² + lam*||c||₁` per sample by proximal gradient
    steps of size `1/L`, `L = λ_max(D Dᵀ)`:
    `c_{k+1} = soft_threshold(c_k - (c_k D Dᵀ - x Dᵀ) / L, lam / L)`.
    The objective gap decays as O(1/k) (Beck & Teboulle 2009, Thm 3.1).

    Args:
        x: array or tensor `(n_samples, n_features)`, the signals.
        dictionary: array or tensor `(n_atoms, n_features)`, one atom per row
            (need not be normalised).
        lam: float >= 0, the L1 weight (scikit-learn's `alpha` for `lasso_cd`).
        n_iter: int >= 1, maximum number of iterations. Defaults to `100`.
        tol: float >= 0 or `None`. Stop early once the relative change of the
            whole code matrix, `||C_k - C_{k-1}||_F / ||C_k||_F`, is `<= tol`
            (checked inside the compiled `while_loop`). `None` runs all
            `n_iter` iterations. Defaults to `None`.
        positive: bool, constrain codes to be non-negative. Defaults to `False`.
        init: array `(n_samples, n_atoms)` or `None`, warm-start codes.
            Defaults to `None` (zeros).
        return_history: bool, also return the objective after each iteration.
            Defaults to `False`.

    Returns:
        codes, a backend tensor `(n_samples, n_atoms)` of `keras.config.floatx()`
        (`np.asarray(codes)` gives numpy). With `return_history=True`,
        `(codes, history)`: `history` is a numpy array `(n_iter_run,)`, the
        objective averaged over samples after each iteration,
        `mean_i 0.5*||x_i - c_i D||² + lam*||c_i||₁`.

    The loop runs as one `tf.function` / `jax.jit` program per input shape and
    per value of `n_iter`, `positive`, `return_history` and whether `tol` is set.

    Example:

    >>> import numpy as np, sparsekit as sk
    >>> rng = np.random.default_rng(0)
    >>> D = rng.normal(size=(32, 16)); x = rng.normal(size=(5, 16))
    >>> codes = sk.coding.ista(x, D, lam=0.5, n_iter=200)  # (5, 32)
    """
    return _solve(
        x,
        dictionary,
        lam,
        False,
        n_iter=n_iter,
        tol=tol,
        positive=positive,
        init=init,
        return_history=return_history,
    )


def fista(
    x: Any,
    dictionary: Any,
    lam: float,
    *,
    n_iter: int = 100,
    tol: float | None = None,
    positive: bool = False,
    init: Any = None,
    return_history: bool = False,
) -> Any:
    """Fast ISTA (FISTA, Beck & Teboulle 2009), batched over samples.

    ISTA's proximal step taken from an extrapolated point:
    `c_k = soft_threshold(y_k - (y_k D Dᵀ - x Dᵀ) / L, lam / L)`,
    `t_{k+1} = (1 + sqrt(1 + 4 t_k²)) / 2`,
    `y_{k+1} = c_k + ((t_k - 1) / t_{k+1}) (c_k - c_{k-1})`, with `t_1 = 1`,
    `y_1 = c_0`. The objective gap decays as O(1/k²) (Thm 4.4); the objective
    is not monotone.

    Args:
        x: array or tensor `(n_samples, n_features)`, the signals.
        dictionary: array or tensor `(n_atoms, n_features)`, one atom per row
            (need not be normalised).
        lam: float >= 0, the L1 weight (scikit-learn's `alpha` for `lasso_cd`).
        n_iter: int >= 1, maximum number of iterations. Defaults to `100`.
        tol: float >= 0 or `None`. Stop early once the relative change of the
            whole code matrix, `||C_k - C_{k-1}||_F / ||C_k||_F`, is `<= tol`
            (checked inside the compiled `while_loop`). `None` runs all
            `n_iter` iterations. Defaults to `None`.
        positive: bool, constrain codes to be non-negative. Defaults to `False`.
        init: array `(n_samples, n_atoms)` or `None`, warm-start codes.
            Defaults to `None` (zeros).
        return_history: bool, also return the objective after each iteration.
            Defaults to `False`.

    Returns:
        codes, a backend tensor `(n_samples, n_atoms)` of `keras.config.floatx()`
        (`np.asarray(codes)` gives numpy). With `return_history=True`,
        `(codes, history)`: `history` is a numpy array `(n_iter_run,)`, the
        objective averaged over samples after each iteration,
        `mean_i 0.5*||x_i - c_i D||² + lam*||c_i||₁`.

    The loop runs as one `tf.function` / `jax.jit` program per input shape and
    per value of `n_iter`, `positive`, `return_history` and whether `tol` is set.

    Example:

    >>> import numpy as np, sparsekit as sk
    >>> rng = np.random.default_rng(0)
    >>> D = rng.normal(size=(32, 16)); x = rng.normal(size=(5, 16))
    >>> codes, history = sk.coding.fista(x, D, lam=0.5, return_history=True)
    """
    return _solve(
        x,
        dictionary,
        lam,
        True,
        n_iter=n_iter,
        tol=tol,
        positive=positive,
        init=init,
        return_history=return_history,
    )
