"""sk.ops.topk_mask against a NumPy reference (stable sort: ties to lowest index)."""

import keras
import numpy as np
import pytest

import sparsekit as sk


def reference_mask(x, k, axis=None):
    """k largest values per sample; a stable descending sort keeps the lowest index."""
    x = np.asarray(x, dtype="float64")
    if axis is None:
        flat = x.reshape(len(x), -1)
        return reference_mask(flat, k, axis=-1).reshape(x.shape)
    moved = np.moveaxis(x, axis, -1)
    order = np.argsort(-moved, axis=-1, kind="stable")[..., :k]
    mask = np.zeros_like(moved)
    np.put_along_axis(mask, order, 1.0, axis=-1)
    return np.moveaxis(mask, -1, axis)


def as_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("k", [1, 3, 7, 8])
def test_matches_reference_on_random_rows(k):
    x = np.random.default_rng(0).normal(size=(5, 8)).astype("float32")
    mask = as_numpy(sk.ops.topk_mask(x, k))
    np.testing.assert_array_equal(mask, reference_mask(x, k))
    np.testing.assert_array_equal(mask.sum(axis=1), np.full(5, k))


def test_values_not_magnitudes():
    x = np.random.default_rng(5).uniform(0, 1, size=(5, 8)).astype("float32")
    x[:, 0] = -100.0  # largest magnitude, smallest value
    mask = as_numpy(sk.ops.topk_mask(x, 3))
    np.testing.assert_array_equal(mask[:, 0], np.zeros(5))
    np.testing.assert_array_equal(mask, reference_mask(x, 3))


def test_ties_go_to_the_lowest_index():
    x = np.array(
        [
            [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],  # all equal
            [0.0, 2.0, 1.0, 2.0, 1.0, 1.0],  # ties at the threshold value 1
            [3.0, 3.0, 3.0, 0.0, 0.0, 0.0],  # ties above the threshold only
            [0.0, 0.0, 0.0, 0.0, 5.0, 0.0],  # one winner, then ties at zero
        ],
        "float32",
    )
    expected = [
        [1, 1, 1, 0, 0, 0],
        [0, 1, 1, 1, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 0, 0, 1, 0],
    ]
    mask = as_numpy(sk.ops.topk_mask(x, 3))
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_array_equal(mask, reference_mask(x, 3))


def test_ties_on_integer_grid_against_reference():
    # Few distinct values: almost every row has ties at its threshold.
    x = np.random.default_rng(1).integers(0, 3, size=(5, 8)).astype("float32")
    for k in (1, 4, 7):
        np.testing.assert_array_equal(
            as_numpy(sk.ops.topk_mask(x, k)), reference_mask(x, k)
        )


def test_default_axis_flattens_all_non_batch_axes():
    x = np.random.default_rng(2).normal(size=(3, 4, 4, 2)).astype("float32")
    mask = as_numpy(sk.ops.topk_mask(x, 5))
    assert mask.shape == x.shape
    np.testing.assert_array_equal(mask, reference_mask(x, 5))
    np.testing.assert_array_equal(mask.reshape(3, -1).sum(axis=1), [5, 5, 5])


@pytest.mark.parametrize("axis", [-1, 1])
def test_integer_axis_selects_per_position(axis):
    x = np.random.default_rng(3).normal(size=(3, 4, 4, 2)).astype("float32")
    x[0, 0, 0, :] = 0.0  # ties along the last axis
    mask = as_numpy(sk.ops.topk_mask(x, 2, axis=axis))
    np.testing.assert_array_equal(mask, reference_mask(x, 2, axis=axis))
    np.testing.assert_array_equal(mask.sum(axis=axis), np.full_like(mask.sum(axis), 2))


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_keeps_dtype(dtype):
    x = keras.ops.cast(np.arange(40, dtype="float32").reshape(5, 8), dtype)
    mask = sk.ops.topk_mask(x, 2)
    assert keras.backend.standardize_dtype(mask.dtype) == dtype
    expected = [[0, 0, 0, 0, 0, 0, 1, 1]] * 5
    np.testing.assert_array_equal(as_numpy(keras.ops.cast(mask, "float32")), expected)


def test_bfloat16_rounding_ties_still_give_exactly_k():
    # 1.001 and 1.002 both round to 1.0 in bfloat16.
    x = keras.ops.cast(np.array([[1.0, 1.002, 1.001, 0.5]], "float32"), "bfloat16")
    mask = as_numpy(keras.ops.cast(sk.ops.topk_mask(x, 2), "float32"))
    np.testing.assert_array_equal(mask, [[1, 1, 0, 0]])


def test_inside_a_compiled_function_with_unknown_batch():
    layer_input = keras.Input((6,))
    model = keras.Model(
        layer_input, keras.layers.Lambda(lambda t: sk.ops.topk_mask(t, 2))(layer_input)
    )
    x = np.random.default_rng(4).normal(size=(7, 6)).astype("float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), reference_mask(x, 2))


@pytest.mark.parametrize("k", [0, -1, 1.5, True, "2"])
def test_invalid_k(k):
    with pytest.raises(ValueError, match=rf"`k`.*Received: k={k!r}"):
        sk.ops.topk_mask(np.ones((2, 4), "float32"), k)


def test_k_larger_than_the_units():
    with pytest.raises(ValueError, match=r"`k`: expected an integer in \[1, 8\].*k=9"):
        sk.ops.topk_mask(np.ones((2, 2, 4), "float32"), 9)
    with pytest.raises(ValueError, match=r"`k`: expected an integer in \[1, 4\].*k=5"):
        sk.ops.topk_mask(np.ones((2, 2, 4), "float32"), 5, axis=-1)


@pytest.mark.parametrize("axis", [3, -4, 1.0, True])
def test_invalid_axis(axis):
    with pytest.raises(ValueError, match=rf"`axis`.*Received: axis={axis!r}"):
        sk.ops.topk_mask(np.ones((2, 2, 4), "float32"), 1, axis=axis)


def test_rank_one_needs_an_axis():
    with pytest.raises(ValueError, match=r"`x`.*rank >= 2.*x.shape=\(4,\)"):
        sk.ops.topk_mask(np.ones(4, "float32"), 1)
    np.testing.assert_array_equal(
        as_numpy(sk.ops.topk_mask(np.array([1.0, 3.0, 2.0]), 1, axis=0)), [0, 1, 0]
    )
