"""sk.stats: means, standard errors and paired differences over seeds."""

import numpy as np
import pytest

import sparsekit as sk


def test_standard_error_is_sample_std_over_root_n():
    values = [1.0, 2.0, 4.0, 7.0]
    expected = np.std(values, ddof=1) / 2.0
    assert sk.stats.standard_error(values) == pytest.approx(expected)
    assert isinstance(sk.stats.standard_error(values), float)


def test_axis_keeps_the_other_axes():
    values = np.arange(12.0).reshape(3, 4) ** 2  # 3 seeds x 4 settings
    mean, se = sk.stats.mean_se(values)
    np.testing.assert_allclose(mean, values.mean(0))
    np.testing.assert_allclose(se, values.std(0, ddof=1) / np.sqrt(3))
    mean_t, se_t = sk.stats.mean_se(values.T, axis=1)
    np.testing.assert_allclose(se_t, se)
    np.testing.assert_allclose(mean_t, mean)


def test_paired_difference_removes_the_shared_seed_effect():
    rng = np.random.default_rng(0)
    seed_effect = rng.normal(0, 5.0, size=20)  # both models share it
    a = seed_effect + 1.0 + rng.normal(0, 0.1, size=20)
    b = seed_effect + rng.normal(0, 0.1, size=20)
    diff, se = sk.stats.paired_difference(a, b)
    assert diff == pytest.approx(1.0, abs=0.1)
    assert se < 0.05 < sk.stats.standard_error(a) / 10  # far tighter than unpaired


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sk.stats.standard_error([1.0]), r"`values`.*at least 2 seeds.*\(1,\)"),
        (lambda: sk.stats.standard_error(3.0), r"`values`.*seeds along `axis`"),
        (lambda: sk.stats.standard_error(["a", "b"]), r"`values`.*numeric"),
        (lambda: sk.stats.mean_se([[1.0, 2.0]], axis=2), r"`axis`.*2-D.*axis=2"),
        (
            lambda: sk.stats.paired_difference([1.0, 2.0], [1.0, 2.0, 3.0]),
            r"`b`.*shape of `a` \(2,\).*\(3,\)",
        ),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
