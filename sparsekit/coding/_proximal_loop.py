"""The compiled (F)ISTA iteration behind `ista`, `fista` and DictionaryLearning.

Kept apart from the public functions in `proximal.py`: the operators of one
proximal-gradient step and the `while_loop` that runs them, traced once per
input shape and dtype (the settings `lam`, `tol` and the step count are
tensors).
"""

from __future__ import annotations

from keras import ops

from sparsekit.coding._compile import compiled

_TINY = 1e-30


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


# With `return_history=True` the loop runs in calls of at most this many steps,
# each filling a fixed-size buffer: the program does not depend on `n_iter`.
HISTORY_CHUNK = 256


@compiled(static_argnames=("positive", "accelerated", "history", "use_tol"))
def loop(
    x,
    dictionary,
    inhibition,
    drive,
    thresh,
    lam,
    tol,
    n_iter,
    state,
    *,
    positive,
    accelerated,
    history,
    use_tol,
):
    """Runs at most `n_iter` (an int32 tensor) (F)ISTA steps in one `while_loop`.

    `state = (z, y, t, rel)`: codes, extrapolated point, momentum and the last
    relative change, so that a run can continue where another stopped. Returns
    `(state, steps_run, hist)`; `hist` holds the objective after each step
    (`HISTORY_CHUNK` slots) if `history`, else one unused zero.
    """
    dtype = drive.dtype
    size = HISTORY_CHUNK if history else 1

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
            hist = hist + ops.one_hot(k, size, dtype=dtype) * value
        return k + 1, z_new, y_new, t_new, rel, hist

    z, y, t, rel = state
    start = (
        ops.convert_to_tensor(0, dtype="int32"),
        z,
        y,
        t,
        rel,
        ops.zeros((size,), dtype=dtype),
    )
    k, z, y, t, rel, hist = ops.while_loop(cond, body, start)
    return (z, y, t, rel), k, hist
