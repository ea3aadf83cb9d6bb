"""sk.coding solvers: soft_threshold, ista, fista, omp against scikit-learn."""

import importlib
import warnings

import keras
import numpy as np
import pytest
from sklearn.decomposition import sparse_encode
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import orthogonal_mp

import sparsekit as sk
from tests.sparsekit._patches import raw_patches

SOLVERS = {"ista": sk.coding.ista, "fista": sk.coding.fista}
# The modules (`sk.coding.omp` is the function, not its module).
proximal_loop = importlib.import_module("sparsekit.coding._proximal_loop")
omp_module = importlib.import_module("sparsekit.coding.omp")


def natural_patches(n=400, size=8, seed=0):
    return raw_patches(n, seed, size)


def unit_atoms(n_atoms, n_features, seed=0):
    d = np.random.default_rng(seed).normal(size=(n_atoms, n_features))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def problem(kind):
    """`(x, dictionary, lam)`: a random or a natural-patch lasso problem."""
    if kind == "random":
        x = np.random.default_rng(1).normal(size=(100, 32))
        return x, unit_atoms(48, 32), 0.5
    return natural_patches(), unit_atoms(96, 64), 0.02


def objective(x, codes, dictionary, lam):
    codes = np.asarray(codes, dtype=np.float64)
    residual = x - codes @ dictionary
    return np.mean(0.5 * np.sum(residual**2, axis=1) + lam * np.abs(codes).sum(1))


def sklearn_codes(x, dictionary, lam, positive=False):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return sparse_encode(
            x,
            dictionary,
            alpha=lam,
            algorithm="lasso_cd",
            positive=positive,
            max_iter=5000,
        )


# soft_threshold


def test_soft_threshold_values_and_broadcasting():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]], "float32")
    out = keras.ops.convert_to_numpy(sk.coding.soft_threshold(x, 1.0))
    np.testing.assert_allclose(out, [[-1.0, 0.0, 0.0, 0.0, 2.0]])
    lam = np.array([0.0, 1.0, 1.0, 0.25, 4.0], "float32")
    out = keras.ops.convert_to_numpy(sk.coding.soft_threshold(x, lam))
    np.testing.assert_allclose(out, [[-2.0, 0.0, 0.0, 0.25, 0.0]])


def test_soft_threshold_rejects_negative_lam():
    with pytest.raises(ValueError, match=r"`lam`.*Received: lam=-0.5"):
        sk.coding.soft_threshold(np.ones(3), -0.5)


# ista / fista against scikit-learn


def test_lam_means_sklearn_alpha():
    # scikit-learn's lasso_cd divides alpha by n_features and Lasso's loss is
    # divided by n_features too: the same per-sample problem as ours.
    x, dictionary, lam = problem("random")
    ours = np.asarray(sk.coding.fista(x, dictionary, lam, n_iter=1000))
    theirs = sklearn_codes(x, dictionary, lam)
    np.testing.assert_allclose(ours, theirs, atol=2e-3)
    assert np.array_equal(np.abs(ours) > 1e-3, np.abs(theirs) > 1e-3)
    other = sklearn_codes(x, dictionary, lam * x.shape[1])
    assert np.abs(ours - other).max() > 0.1


@pytest.mark.parametrize("kind", ["random", "natural"])
@pytest.mark.parametrize("solver", ["ista", "fista"])
def test_reaches_sklearn_objective(solver, kind):
    x, dictionary, lam = problem(kind)
    n_iter = 3000 if solver == "ista" else 1000
    codes = SOLVERS[solver](x, dictionary, lam, n_iter=n_iter)
    assert tuple(codes.shape) == (x.shape[0], dictionary.shape[0])
    ours = objective(x, codes, dictionary, lam)
    theirs = objective(x, sklearn_codes(x, dictionary, lam), dictionary, lam)
    assert abs(ours - theirs) / theirs < 1e-4


@pytest.mark.parametrize("solver", ["ista", "fista"])
def test_positive_codes_match_sklearn(solver):
    x, dictionary, lam = problem("random")
    n_iter = 3000 if solver == "ista" else 1000
    codes = np.asarray(
        SOLVERS[solver](x, dictionary, lam, n_iter=n_iter, positive=True)
    )
    assert codes.min() >= 0.0
    theirs = sklearn_codes(x, dictionary, lam, positive=True)
    np.testing.assert_allclose(codes, theirs, atol=2e-3)
    ours = objective(x, codes, dictionary, lam)
    assert abs(ours - objective(x, theirs, dictionary, lam)) / ours < 1e-4


def test_convergence_rates_follow_beck_teboulle():
    x, dictionary, lam = problem("random")
    x = x[:40]
    best = sk.coding.fista(x, dictionary, lam, n_iter=3000)
    f_star = objective(x, best, dictionary, lam)
    r2 = np.mean(np.sum(np.asarray(best, np.float64) ** 2, axis=1))  # ||x0 - x*||²
    lipschitz = np.linalg.eigvalsh(dictionary @ dictionary.T).max()
    k = np.arange(1, 201)
    _, h_ista = sk.coding.ista(x, dictionary, lam, n_iter=200, return_history=True)
    _, h_fista = sk.coding.fista(x, dictionary, lam, n_iter=200, return_history=True)
    assert isinstance(h_ista, np.ndarray) and h_ista.shape == (200,)
    gap_ista, gap_fista = h_ista - f_star, h_fista - f_star
    slack = 1e-5 * f_star  # float32 round-off
    # Theorems 3.1 and 4.4: L R²/(2k) and 2 L R²/(k+1)².
    assert np.all(gap_ista <= lipschitz * r2 / (2 * k) + slack)
    assert np.all(gap_fista <= 2 * lipschitz * r2 / (k + 1) ** 2 + slack)
    assert np.all(np.diff(h_ista) <= slack)  # ISTA is monotone
    assert gap_fista[49] < 0.1 * gap_ista[49]
    assert np.max(k * gap_ista) < 2 * np.max(k[:10] * gap_ista[:10])


@pytest.mark.parametrize("solver", ["ista", "fista"])
def test_tol_stops_early_and_warm_start_converges_at_once(solver):
    x, dictionary, lam = problem("random")
    codes, history = SOLVERS[solver](
        x, dictionary, lam, n_iter=1000, tol=1e-4, return_history=True
    )
    assert 1 < len(history) < 1000
    solution = SOLVERS[solver](x, dictionary, lam, n_iter=1000)
    warm, history = SOLVERS[solver](
        x, dictionary, lam, n_iter=1000, tol=1e-4, init=solution, return_history=True
    )
    assert len(history) == 1
    np.testing.assert_allclose(np.asarray(warm), np.asarray(solution), atol=1e-5)


def test_history_longer_than_one_compiled_chunk():
    # `return_history` runs the loop in chunks of _HISTORY_CHUNK steps; the
    # state carried between chunks must give the same run as one single loop.
    x, dictionary, lam = problem("random")
    n_iter = 2 * proximal_loop.HISTORY_CHUNK + 88
    codes, history = sk.coding.ista(
        x, dictionary, lam, n_iter=n_iter, return_history=True
    )
    assert history.shape == (n_iter,)
    plain = sk.coding.ista(x, dictionary, lam, n_iter=n_iter)
    np.testing.assert_array_equal(np.asarray(codes), np.asarray(plain))
    assert history[-1] == pytest.approx(objective(x, plain, dictionary, lam), rel=1e-5)
    assert np.all(np.diff(history) <= 1e-5 * history[-1])  # monotone throughout
    # FISTA's momentum is carried across chunks too, and tol stops it past one.
    codes, history = sk.coding.fista(
        x, dictionary, lam, n_iter=3000, tol=1e-5, return_history=True
    )
    assert proximal_loop.HISTORY_CHUNK < len(history) < 3000
    plain = sk.coding.fista(x, dictionary, lam, n_iter=3000, tol=1e-5)
    np.testing.assert_array_equal(np.asarray(codes), np.asarray(plain))
    stopped = sk.coding.fista(x, dictionary, lam, n_iter=len(history))
    np.testing.assert_array_equal(np.asarray(codes), np.asarray(stopped))


def test_zero_codes_when_lam_is_large():
    x, dictionary, _ = problem("random")
    lam_max = np.abs(x @ dictionary.T).max()
    codes = sk.coding.fista(x, dictionary, 1.01 * lam_max, n_iter=10)
    assert not np.any(np.asarray(codes))


_X, _D, _LAM = problem("random")
BAD_CALLS = [
    (dict(lam=-0.1), r"`lam`.*Received: lam=-0.1"),
    (dict(n_iter=0), r"`n_iter`.*Received: n_iter=0"),
    (dict(n_iter=2.5), r"`n_iter`.*Received: n_iter=2.5"),
    (dict(tol=-1.0), r"`tol`.*Received: tol=-1.0"),
    (dict(positive="yes"), r"`positive`.*Received: positive='yes'"),
    (dict(return_history=1), r"`return_history`.*Received: return_history=1"),
    (dict(x=_X[0]), r"`x`.*2-D.*Received: x.shape=\(32,\)"),
    (dict(x=np.where(_X > 2, np.nan, _X)), r"`x`.*finite.*Received: x containing"),
    (
        dict(dictionary=_D[:, :10]),
        r"`dictionary`.*32.*Received: dictionary.shape=\(48, 10\)",
    ),
    (dict(dictionary=0 * _D), r"`dictionary`.*Received: all zeros"),
    (dict(init=np.zeros((100, 5))), r"`init`.*Received: init.shape=\(100, 5\)"),
]


@pytest.mark.parametrize("solver", ["ista", "fista"])
def test_invalid_arguments(solver):
    for kwargs, match in BAD_CALLS:
        args = dict(x=_X, dictionary=_D, lam=_LAM, n_iter=5)
        args.update(kwargs)
        with pytest.raises(ValueError, match=match):
            x, dictionary, lam = args.pop("x"), args.pop("dictionary"), args.pop("lam")
            SOLVERS[solver](x, dictionary, lam, **args)


# omp


def sparse_problem(n_samples=150, n_atoms=96, n_features=64, k=5, seed=0):
    rng = np.random.default_rng(seed)
    dictionary = unit_atoms(n_atoms, n_features, seed)
    codes = np.zeros((n_samples, n_atoms))
    for row in codes:
        support = rng.choice(n_atoms, k, replace=False)
        row[support] = rng.normal(size=k) + 2 * np.sign(rng.normal(size=k))
    x = codes @ dictionary + 0.01 * rng.normal(size=(n_samples, n_features))
    return x, dictionary, codes


def test_omp_matches_sklearn_support_and_codes():
    x, dictionary, truth = sparse_problem()
    codes = np.asarray(sk.coding.omp(x, dictionary, 5))
    theirs = orthogonal_mp(dictionary.T, x.T, n_nonzero_coefs=5).T
    assert np.array_equal(codes != 0, theirs != 0)
    recovered = np.all((codes != 0) == (truth != 0), axis=1)
    assert recovered.mean() > 0.9  # well-conditioned: the planted support
    np.testing.assert_allclose(codes, theirs, atol=1e-4)


def test_omp_tol_stops_each_sample_like_sklearn():
    x, dictionary, _ = sparse_problem(k=3)
    x = x * np.random.default_rng(2).uniform(0.2, 1.0, size=(len(x), 1))
    codes = np.asarray(sk.coding.omp(x, dictionary, 10, tol=0.05))
    theirs = orthogonal_mp(dictionary.T, x.T, tol=0.05).T
    counts = (codes != 0).sum(axis=1)
    assert np.array_equal(codes != 0, theirs != 0)
    assert counts.min() < counts.max() <= 10
    residual = np.sum((x - codes @ dictionary) ** 2, axis=1)
    assert residual.max() <= 0.05 + 1e-5


def test_omp_repeated_atom_stays_finite():
    x, dictionary, _ = sparse_problem(n_samples=20)
    dictionary = np.vstack([dictionary, dictionary[:3]])
    codes = np.asarray(sk.coding.omp(x, dictionary, 10))
    assert np.all(np.isfinite(codes))
    assert np.all((codes != 0).sum(axis=1) <= 10)


OMP_BAD_CALLS = [
    (dict(n_nonzero=97), r"`n_nonzero`.*\[1, 64\].*Received: n_nonzero=97"),
    (dict(n_nonzero=0), r"`n_nonzero`.*Received: n_nonzero=0"),
    (dict(n_nonzero=2.0), r"`n_nonzero`.*Received: n_nonzero=2.0"),
    (dict(tol=-1.0), r"`tol`.*Received: tol=-1.0"),
    (dict(x=np.ones(64)), r"`x`.*2-D.*Received: x.shape=\(64,\)"),
    (dict(x=np.full((2, 64), np.inf)), r"`x`.*finite.*Received: x containing"),
    (
        dict(dictionary=np.ones((96, 10))),
        r"`dictionary`.*64.*Received: dictionary.shape=\(96, 10\)",
    ),
    (dict(dictionary=np.zeros((96, 64))), r"`dictionary`.*Received: a zero atom"),
]


def test_omp_invalid_arguments():
    x, dictionary, _ = sparse_problem(n_samples=4)
    for kwargs, match in OMP_BAD_CALLS:
        args = dict(x=x, dictionary=dictionary, n_nonzero=5)
        args.update(kwargs)
        with pytest.raises(ValueError, match=match):
            x_, d_, k_ = args.pop("x"), args.pop("dictionary"), args.pop("n_nonzero")
            sk.coding.omp(x_, d_, k_, **args)


def test_omp_n_nonzero_bound_is_n_atoms_when_fewer_atoms_than_features():
    x = np.random.default_rng(0).normal(size=(3, 16))
    with pytest.raises(ValueError, match=r"`n_nonzero`.*\[1, 8\].*n_nonzero=9"):
        sk.coding.omp(x, unit_atoms(8, 16), 9)
    codes = np.asarray(sk.coding.omp(x, unit_atoms(8, 16), 8))
    assert np.all((codes != 0).sum(axis=1) == 8)


def test_lasso_objective_matches_the_formula_per_sample():
    x, dictionary, lam = problem("random")
    codes = np.random.default_rng(2).normal(size=(len(x), len(dictionary)))
    codes[codes < 0.5] = 0.0
    per_sample = keras.ops.convert_to_numpy(
        sk.coding.lasso_objective(x, codes, dictionary, lam)
    )
    assert per_sample.shape == (len(x),)
    residual = x - codes @ dictionary
    expected = 0.5 * np.sum(residual**2, 1) + lam * np.abs(codes).sum(1)
    np.testing.assert_allclose(per_sample, expected, rtol=1e-5)


def test_lasso_objective_is_what_fista_records():
    x, dictionary, lam = problem("random")
    codes, history = sk.coding.fista(x, dictionary, lam, n_iter=50, return_history=True)
    recorded = float(keras.ops.convert_to_numpy(history)[-1])
    mean = float(np.mean(sk.coding.lasso_objective(x, codes, dictionary, lam)))
    assert mean == pytest.approx(recorded, rel=1e-5)


@pytest.mark.parametrize(
    ("codes_shape", "dictionary_shape", "lam", "match"),
    [
        ((100, 47), (48, 32), 0.5, r"`codes`.*48 columns.*\(100, 47\)"),
        ((99, 48), (48, 32), 0.5, r"`codes`.*100 rows.*\(99, 48\)"),
        ((100, 48), (48, 31), 0.5, r"`dictionary`.*shape \(n_atoms, 32\)"),
        ((100, 48), (48, 32), -1.0, r"`lam`.*>= 0.*lam=-1.0"),
    ],
)
def test_lasso_objective_names_the_bad_argument(
    codes_shape, dictionary_shape, lam, match
):
    x = np.zeros((100, 32))
    with pytest.raises(ValueError, match=match):
        sk.coding.lasso_objective(
            x, np.zeros(codes_shape), np.ones(dictionary_shape), lam
        )


# One trace per input shape and dtype: numeric settings are tensors.

LAMS = (0.05, 0.1, 0.2, 0.4, 0.8)
N_ITERS = (20, 50, 80)


@pytest.fixture
def fresh_programs():
    """Drops the compiled loops, so a test counts its own traces from zero."""
    loops = (proximal_loop.loop, omp_module._omp_loop)
    for loop in loops:
        loop.clear_cache()
    yield
    for loop in loops:
        loop.clear_cache()


def tracing_count(program):
    """TensorFlow's own count of a `tf.function`'s traces (a second witness)."""
    return program.experimental_get_tracing_count()


@pytest.mark.parametrize(
    "options",
    [{}, {"tol": 1e-4}, {"return_history": True}, {"positive": True}],
    ids=["plain", "tol", "history", "positive"],
)
@pytest.mark.parametrize("solver", ["ista", "fista"])
def test_lam_and_n_iter_sweep_traces_once_per_shape(solver, options, fresh_programs):
    rng = np.random.default_rng(3)
    x, dictionary = rng.normal(size=(30, 12)), unit_atoms(20, 12, seed=3)
    last = {}
    for lam in LAMS:
        for n_iter in N_ITERS:
            result = SOLVERS[solver](x, dictionary, lam, n_iter=n_iter, **options)
            if options.get("return_history"):
                result, history = result
                assert len(history) == n_iter  # n_iter reached the loop
            last[lam] = np.asarray(result)
    assert proximal_loop.loop.trace_count() == 1
    # lam reached the loop too: each value gave its own codes.
    assert len({codes.tobytes() for codes in last.values()}) == len(LAMS)
    # The same shape in float64, and the same inputs as tensors: no new trace.
    SOLVERS[solver](x.astype("float64"), dictionary, 0.3, n_iter=7, **options)
    SOLVERS[solver](
        keras.ops.convert_to_tensor(x, "float32"), dictionary, 0.3, n_iter=9, **options
    )
    assert proximal_loop.loop.trace_count() == 1
    # Another shape is one more trace, and then sweeps over it are free again.
    for lam in LAMS:
        SOLVERS[solver](x[:7], dictionary, lam, n_iter=N_ITERS[lam > 0.1], **options)
    assert proximal_loop.loop.trace_count() == 2
    if keras.backend.backend() == "tensorflow":
        program = proximal_loop.loop.program(
            positive=options.get("positive", False),
            accelerated=solver == "fista",
            history=options.get("return_history", False),
            use_tol="tol" in options,
        )
        assert tracing_count(program) == 2
    # Reusing the program for another lam is what a fresh program computes.
    proximal_loop.loop.clear_cache()
    again = SOLVERS[solver](x, dictionary, LAMS[-1], n_iter=N_ITERS[-1], **options)
    again = np.asarray(again[0] if options.get("return_history") else again)
    np.testing.assert_allclose(again, last[LAMS[-1]], rtol=1e-6, atol=1e-7)


def test_retracing_warning_is_not_logged_for_a_sweep(fresh_programs, caplog):
    # TensorFlow logs "triggered tf.function retracing" when most recent calls
    # of one function traced; flags each get their own program, settings none.
    x, dictionary = np.random.default_rng(4).normal(size=(25, 12)), unit_atoms(20, 12)
    with caplog.at_level("WARNING"):
        for n_iter in (*N_ITERS, 100, 150, 200, 250):
            for options in ({}, {"positive": True}, {"return_history": True}):
                sk.coding.fista(x, dictionary, 0.2, n_iter=n_iter, **options)
                sk.coding.ista(x, dictionary, 0.2, n_iter=n_iter, tol=1e-3, **options)
    assert proximal_loop.loop.trace_count() == 6
    assert "retracing" not in caplog.text


def test_omp_tol_sweep_traces_once_per_shape_and_n_nonzero(fresh_programs):
    # n_nonzero sizes the loop state (the chosen atoms, their Gram-Schmidt
    # factor), so each value is its own program; tol is a tensor.
    x, dictionary, _ = sparse_problem(n_samples=33, k=3, seed=5)
    for tol in (None, 0.01, 0.1, 1.0, 10.0):
        codes = np.asarray(sk.coding.omp(x, dictionary, 4, tol=tol))
        assert np.all((codes != 0).sum(axis=1) <= 4)
    assert omp_module._omp_loop.trace_count() == 1
    loose = np.asarray(sk.coding.omp(x, dictionary, 4, tol=1e6))
    assert not np.any(loose)  # tol reached the loop: no atom was needed
    sk.coding.omp(x, dictionary, 6, tol=0.1)
    assert omp_module._omp_loop.trace_count() == 2
