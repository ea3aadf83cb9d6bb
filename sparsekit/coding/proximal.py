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

# `ista_operators` and `objective` are also read from here by LISTA and
# DictionaryLearning.
from sparsekit.coding._proximal_loop import (
    HISTORY_CHUNK,
    ista_operators,
    loop,
    objective,
)


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


def _kernel(x, dictionary, lam, *, n_iter, tol, positive, init, accelerated, history):
    """(F)ISTA on validated float tensors; returns `(codes, n_iter_run, history)`.

    `lam`, `n_iter` and `tol` reach the compiled loop as tensors: one trace per
    input shape and dtype serves every value. Without `history`, `n_iter_run`
    is the loop's int32 tensor (read it only if needed: that waits for the
    device) and `history` is `None`; with it, an int and a numpy array
    `(n_iter_run,)`.
    """
    dtype = x.dtype
    step, encoder, inhibition = ista_operators(dictionary)
    lam = ops.convert_to_tensor(lam, dtype=dtype)
    if init is None:
        init = ops.zeros((ops.shape(x)[0], ops.shape(dictionary)[0]), dtype=dtype)
    operands = (
        x,
        dictionary,
        inhibition,
        ops.matmul(x, encoder),
        ops.cast(lam * step, dtype),
        lam,
        ops.convert_to_tensor(0.0 if tol is None else tol, dtype=dtype),
    )
    flags = dict(
        positive=positive,
        accelerated=accelerated,
        history=history,
        use_tol=tol is not None,
    )
    state = (
        init,
        init,
        ops.convert_to_tensor(1.0, dtype=dtype),
        ops.convert_to_tensor(np.inf, dtype=dtype),
    )
    if not history:
        state, k, _ = loop(*operands, _steps(n_iter), state, **flags)
        return state[0], k, None
    values, run = [], 0
    while run < n_iter:
        chunk = min(HISTORY_CHUNK, n_iter - run)
        state, k, hist = loop(*operands, _steps(chunk), state, **flags)
        k = int(ops.convert_to_numpy(k))
        values.append(np.asarray(ops.convert_to_numpy(hist))[:k])
        run += k
        if k < chunk:  # stopped on `tol`
            break
    return state[0], run, np.concatenate(values)


def _steps(n: int):
    """An iteration count as the int32 tensor the compiled loop takes."""
    return ops.convert_to_tensor(n, dtype="int32")


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
    codes, _, hist = _kernel(x, dictionary, accelerated=accelerated, **options)
    if not options["history"]:
        return codes
    return codes, hist


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
    dtype and per value of `positive`, `return_history` and whether `tol` is
    set; `lam`, `n_iter` and `tol` are passed to it as tensors, so sweeping
    them does not retrace.

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
    dtype and per value of `positive`, `return_history` and whether `tol` is
    set; `lam`, `n_iter` and `tol` are passed to it as tensors, so sweeping
    them does not retrace.

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
