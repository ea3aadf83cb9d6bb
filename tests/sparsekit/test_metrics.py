"""Sparsity metrics against direct numpy implementations of their formulas."""

import keras
import numpy as np
import pytest

from sparsekit import metrics

RNG = np.random.default_rng(0)


def relu_codes(shape, zero_fraction=0.5):
    x = np.abs(RNG.normal(size=shape))
    x[RNG.random(shape) < zero_fraction] = 0.0
    return x


def hoyer_ref(v):
    v = np.asarray(v, dtype=np.float64)
    n = v.size
    l1, l2 = np.sum(np.abs(v)), np.sqrt(np.sum(v**2))
    if l2 == 0:
        return 0.0
    return (np.sqrt(n) - l1 / l2) / (np.sqrt(n) - 1)


def gini_ref(v):
    c = sorted(abs(float(e)) for e in v)
    n, total = len(c), sum(c)
    if total == 0:
        return 0.0
    return 1 - 2 * sum((c[k - 1] / total) * (n - k + 0.5) / n for k in range(1, n + 1))


def treves_rolls_ref(r):
    r = np.abs(np.asarray(r, dtype=np.float64))
    n = r.size
    if np.sum(r**2) == 0:
        return 0.0
    return (1 - (np.sum(r) / n) ** 2 / (np.sum(r**2) / n)) / (1 - 1 / n)


def jaccard_ref(a, b):
    a, b = set(np.flatnonzero(a)), set(np.flatnonzero(b))
    return len(a & b) / len(a | b) if a | b else 0.0


def cosine_ref(a, b):
    a, b = set(np.flatnonzero(a)), set(np.flatnonzero(b))
    return len(a & b) / np.sqrt(len(a) * len(b)) if a and b else 0.0


# activation_sparsity and l0


def test_activation_sparsity_matches_counting():
    x = RNG.normal(size=(20, 7))
    x[RNG.random(x.shape) < 0.3] = 0.0
    expected = np.sum(np.abs(x) <= 0.0) / x.size
    assert metrics.activation_sparsity(x) == pytest.approx(expected)
    expected = np.sum(np.abs(x) <= 0.5) / x.size
    assert metrics.activation_sparsity(x, threshold=0.5) == pytest.approx(expected)


def test_activation_sparsity_accepts_backend_tensors_and_returns_float():
    x = relu_codes((10, 6))
    result = metrics.activation_sparsity(keras.ops.convert_to_tensor(x))
    assert isinstance(result, float)
    assert result == pytest.approx(np.mean(x == 0))


def test_l0_counts_nonzeros():
    x = relu_codes((5, 4, 3))
    assert metrics.l0(x) == np.count_nonzero(x)
    assert isinstance(metrics.l0(x), int)
    np.testing.assert_array_equal(metrics.l0(x, axis=-1), (x != 0).sum(-1))
    np.testing.assert_array_equal(metrics.l0(x, axis=(1, 2)), (x != 0).sum((1, 2)))
    tensor = keras.ops.convert_to_tensor(x)
    np.testing.assert_array_equal(metrics.l0(tensor, axis=0), (x != 0).sum(0))


# hoyer


def test_hoyer_matches_formula_per_row_and_along_axis_zero():
    x = RNG.normal(size=(6, 9))
    expected = [hoyer_ref(row) for row in x]
    np.testing.assert_allclose(metrics.hoyer(x), expected, rtol=1e-12)
    expected = [hoyer_ref(col) for col in x.T]
    np.testing.assert_allclose(metrics.hoyer(x, axis=0), expected, rtol=1e-12)


def test_hoyer_extremes_and_zero_vector():
    assert metrics.hoyer([1.0, 0.0, 0.0, 0.0]) == pytest.approx(1.0)
    assert metrics.hoyer([1.0, 1.0, 1.0, 1.0]) == pytest.approx(0.0)
    assert metrics.hoyer([-2.0, 2.0, 2.0]) == pytest.approx(0.0)
    assert metrics.hoyer([0.0, 0.0, 0.0]) == 0.0
    assert isinstance(metrics.hoyer([0.0, 3.0]), float)


def test_hoyer_is_scale_invariant_and_accepts_tensors():
    x = relu_codes((4, 10))
    tensor = keras.ops.convert_to_tensor(x.astype("float32") * 7.0)
    np.testing.assert_allclose(metrics.hoyer(tensor), metrics.hoyer(x), rtol=1e-5)


# gini


def test_gini_matches_direct_implementation():
    x = RNG.normal(size=(5, 11))
    expected = [gini_ref(row) for row in x]
    np.testing.assert_allclose(metrics.gini(x), expected, rtol=1e-12)
    expected = [gini_ref(col) for col in x.T]
    np.testing.assert_allclose(metrics.gini(x, axis=0), expected, rtol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 5, 32])
def test_gini_one_hot_constant_and_zero(n):
    one_hot = np.zeros(n)
    one_hot[n // 2] = 3.0
    assert metrics.gini(one_hot) == pytest.approx(1 - 1 / n)
    assert metrics.gini(np.full(n, 2.5)) == pytest.approx(0.0)
    assert metrics.gini(np.zeros(n)) == 0.0


def test_gini_scale_invariance_and_cloning():
    x = RNG.normal(size=12)
    assert metrics.gini(5.0 * x) == pytest.approx(metrics.gini(x))
    # Hurley & Rickard's "cloning": concatenating copies leaves the index unchanged.
    assert metrics.gini(np.concatenate([x, x, x])) == pytest.approx(metrics.gini(x))
    # "Bill Gates": raising one entry makes the vector sparser.
    richer = x.copy()
    richer[np.argmax(np.abs(x))] *= 10.0
    assert metrics.gini(richer) > metrics.gini(x)


# dead_units


def test_dead_units_fraction_and_mask():
    a = relu_codes((30, 8), zero_fraction=0.4)
    a[:, [1, 5]] = 0.0
    a[:, 6] = 0.01
    assert metrics.dead_units(a) == pytest.approx(2 / 8)
    assert metrics.dead_units(a, threshold=0.02) == pytest.approx(3 / 8)
    mask = metrics.dead_units(a, return_mask=True)
    np.testing.assert_array_equal(mask, np.all(a == 0, axis=0))
    assert mask.dtype == bool


def test_dead_units_treats_every_non_sample_entry_as_a_unit():
    a = relu_codes((10, 3, 4))
    a[:, 2, 1] = 0.0
    mask = metrics.dead_units(keras.ops.convert_to_tensor(a), return_mask=True)
    assert mask.shape == (3, 4)
    np.testing.assert_array_equal(mask, np.all(a == 0, axis=0))


# lifetime and population sparsity


def test_lifetime_sparsity_matches_formula_per_unit():
    a = relu_codes((25, 6))
    a[:, 4] = 0.0
    expected = [treves_rolls_ref(a[:, u]) for u in range(6)]
    np.testing.assert_allclose(metrics.lifetime_sparsity(a), expected, rtol=1e-12)
    assert metrics.lifetime_sparsity(a)[4] == 0.0


def test_population_sparsity_matches_formula_per_sample():
    a = relu_codes((7, 3, 4))
    expected = [treves_rolls_ref(sample.ravel()) for sample in a]
    result = metrics.population_sparsity(keras.ops.convert_to_tensor(a))
    np.testing.assert_allclose(result, expected, rtol=1e-5)
    assert result.shape == (7,)


def test_treves_rolls_extremes():
    selective = np.zeros((5, 2))
    selective[3, 0] = 2.0
    selective[:, 1] = 4.0
    np.testing.assert_allclose(metrics.lifetime_sparsity(selective), [1.0, 0.0])
    np.testing.assert_allclose(metrics.population_sparsity(selective.T), [1.0, 0.0])


# code_overlap

CODES = np.array(
    [
        [1, 1, 1, 0, 0, 0],  # class 0: units {0, 1, 2}
        [2, 1, 0, 3, 0, 0],  # class 0: units {0, 1, 3}
        [0, 0, 0, 1, 1, 0],  # class 1: units {3, 4}
        [0, 0, 0, 0, -1, 5],  # class 1: units {4, 5}
    ],
    dtype=np.float64,
)


def test_code_overlap_on_constructed_codes():
    labels = np.array([0, 0, 1, 1])
    expected = np.array([[2 / 4, 1 / 16], [1 / 16, 1 / 3]])
    np.testing.assert_allclose(metrics.code_overlap(CODES, labels), expected)
    cross = (1 / np.sqrt(6)) / 4
    expected = np.array([[2 / 3, cross], [cross, 1 / 2]])
    result = metrics.code_overlap(CODES, labels, measure="cosine")
    np.testing.assert_allclose(result, expected)


def test_code_overlap_follows_sorted_labels_and_accepts_one_hot():
    labels = np.array([7, 7, 3, 3])
    expected = np.array([[1 / 3, 1 / 16], [1 / 16, 2 / 4]])
    np.testing.assert_allclose(metrics.code_overlap(CODES, labels), expected)
    one_hot = np.eye(2)[[1, 1, 0, 0]]
    np.testing.assert_allclose(metrics.code_overlap(CODES, one_hot), expected)


@pytest.mark.parametrize(
    ("measure", "pair"), [("jaccard", jaccard_ref), ("cosine", cosine_ref)]
)
def test_code_overlap_matches_brute_force(measure, pair):
    codes = relu_codes((18, 10), zero_fraction=0.6)
    codes[0] = 0.0  # an empty code overlaps nothing
    labels = RNG.integers(0, 3, size=18)
    labels[:6] = [0, 0, 1, 1, 2, 2]
    result = metrics.code_overlap(
        keras.ops.convert_to_tensor(codes), labels, 0.1, measure=measure
    )
    active = codes > 0.1
    for a in range(3):
        for b in range(3):
            values = [
                pair(active[i], active[j])
                for i in np.flatnonzero(labels == a)
                for j in np.flatnonzero(labels == b)
                if i != j
            ]
            assert result[a, b] == pytest.approx(np.mean(values))


def test_code_overlap_single_sample_class_has_nan_diagonal():
    result = metrics.code_overlap(CODES[:3], [0, 0, 1])
    assert np.isnan(result[1, 1])
    assert result[0, 0] == pytest.approx(0.5)


# invalid arguments


INVALID = [
    (lambda: metrics.activation_sparsity(np.ones(3), -1.0), r"`threshold`.*-1\.0"),
    (lambda: metrics.activation_sparsity([]), r"`x`.*shape \(0,\)"),
    (lambda: metrics.activation_sparsity([1.0, np.nan]), r"`x`.*NaN"),
    (lambda: metrics.activation_sparsity("abc"), r"`x`.*abc"),
    (lambda: metrics.l0(np.ones((2, 3)), axis=2), r"`axis`.*axis=2"),
    (lambda: metrics.l0(np.ones((2, 3)), axis=(0, 0)), r"`axis`.*\(0, 0\)"),
    (lambda: metrics.hoyer(np.ones((2, 3)), axis=1.5), r"`axis`.*axis=1\.5"),
    (lambda: metrics.hoyer(np.ones((3, 1))), r"`x`.*at least 2.*\(3, 1\)"),
    (lambda: metrics.hoyer(np.float64(2.0)), r"`x`.*shape \(\)"),
    (lambda: metrics.gini(np.ones(3), axis=-2), r"`axis`.*axis=-2"),
    (lambda: metrics.dead_units(np.ones((2, 3)), -0.5), r"`threshold`.*-0\.5"),
    (lambda: metrics.dead_units(np.ones(3)), r"`activations`.*shape \(3,\)"),
    (
        lambda: metrics.dead_units(np.ones((2, 3)), return_mask=1),
        r"`return_mask`.*return_mask=1",
    ),
    (
        lambda: metrics.lifetime_sparsity(np.ones((1, 3))),
        r"`activations`.*2 samples.*\(1, 3\)",
    ),
    (
        lambda: metrics.population_sparsity(np.ones((4, 1))),
        r"`activations`.*2 units.*\(4, 1\)",
    ),
    (
        lambda: metrics.code_overlap(CODES, [0, 1]),
        r"`labels`.*shape \(2,\)",
    ),
    (
        lambda: metrics.code_overlap(CODES, [0, 0, 1, 1], measure="dice"),
        r"`measure`.*measure='dice'",
    ),
    (
        lambda: metrics.code_overlap(CODES, [0, 0, 1, 1], threshold=-1),
        r"`threshold`.*threshold=-1",
    ),
]


def test_invalid_arguments_name_the_argument_and_value():
    # One test item: the shared fixture's clear_session() costs ~0.8 s per test.
    for call, pattern in INVALID:
        with pytest.raises(ValueError, match=pattern):
            call()
