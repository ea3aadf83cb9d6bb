"""Array checks shared by the sparse-coding entry points.

Scalars go through `sparsekit._validation`; arrays are described by their shape in
the error, never by their (possibly huge) contents.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


def array_error(name: str, expected: str, received: str) -> ValueError:
    """The project's `ValueError` for an array argument, e.g. `x.shape=(3,)`."""
    return ValueError(
        f"Invalid value for argument `{name}`: expected {expected}. "
        f"Received: {received}"
    )


def check_matrix(name: str, value: Any, *, n_rows=None, n_cols=None):
    """Returns `value` as a finite 2-D float tensor of `keras.config.floatx()`.

    `n_rows`/`n_cols` are `(int, description)` pairs the shape must match.
    """
    try:
        tensor = ops.convert_to_tensor(value, dtype=keras.config.floatx())
    except (TypeError, ValueError) as error:
        raise array_error(
            name, "a numeric 2-D array", f"{name}={value!r:.80}"
        ) from error
    shape = tuple(ops.shape(tensor))
    if len(shape) != 2:
        raise array_error(name, "a 2-D array", f"{name}.shape={shape}")
    for axis, want in ((0, n_rows), (1, n_cols)):
        if want is not None and shape[axis] != want[0]:
            raise array_error(name, want[1], f"{name}.shape={shape}")
    if 0 in shape:
        raise array_error(name, "a non-empty array", f"{name}.shape={shape}")
    if not bool(ops.convert_to_numpy(ops.all(ops.isfinite(tensor)))):
        raise array_error(name, "finite values", f"{name} containing NaN or inf")
    return tensor


def check_signals_and_dictionary(x: Any, dictionary: Any) -> tuple[Any, Any]:
    """Checks `x` `(n_samples, n_features)` and a dictionary with matching features."""
    x = check_matrix("x", x)
    n_features = ops.shape(x)[1]
    dictionary = check_matrix(
        "dictionary",
        dictionary,
        n_cols=(n_features, f"shape (n_atoms, {n_features}) to match x's features"),
    )
    return x, dictionary
