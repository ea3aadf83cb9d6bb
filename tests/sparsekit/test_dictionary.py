"""sk.coding.DictionaryLearning on natural image patches."""

import importlib

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import sparsekit as sk
from tests.sparsekit._patches import raw_patches

proximal_loop = importlib.import_module("sparsekit.coding._proximal_loop")
dictionary_module = importlib.import_module("sparsekit.coding.dictionary")
SETTINGS = dict(lam=0.02, n_iter=3, batch_size=256, code_n_iter=30)


def natural_patches(n, seed, size=8):
    return raw_patches(n, seed, size).astype("float32")


@pytest.fixture(scope="module")
def learner():
    return sk.coding.DictionaryLearning(48, **SETTINGS).fit(natural_patches(1536, 0))


def omp_error(x, dictionary, n_nonzero):
    codes = np.asarray(sk.coding.omp(x, dictionary, n_nonzero))
    return np.mean(np.sum((x - codes @ dictionary) ** 2, axis=1))


def test_learned_atoms_beat_random_atoms_at_equal_sparsity(learner):
    held_out = natural_patches(512, 1)
    rng = np.random.default_rng(0)
    random_atoms = rng.normal(size=learner.components_.shape)
    random_atoms /= np.linalg.norm(random_atoms, axis=1, keepdims=True)
    for n_nonzero in (2, 4):
        learned = omp_error(held_out, learner.components_, n_nonzero)
        baseline = omp_error(held_out, random_atoms, n_nonzero)
        assert learned < 0.85 * baseline, n_nonzero


def test_atoms_are_unit_norm_and_objective_decreases(learner):
    assert learner.components_.shape == (48, 64)
    assert isinstance(learner.components_, np.ndarray)
    np.testing.assert_allclose(
        np.linalg.norm(learner.components_, axis=1), 1, atol=1e-5
    )
    assert learner.error_.shape == (3,) and learner.n_iter_ == 3
    assert learner.error_[-1] < learner.error_[0]


def test_transform_gives_sparse_fista_codes(learner):
    x = natural_patches(512, 1)
    codes = learner.transform(x)
    assert isinstance(codes, np.ndarray) and codes.shape == (512, 48)
    assert 0.0 < np.mean(codes != 0) < 0.5
    expected = sk.coding.fista(x, learner.components_, SETTINGS["lam"], n_iter=30)
    np.testing.assert_allclose(codes, np.asarray(expected), atol=1e-5)


def test_same_seed_same_dictionary_other_seed_differs(learner):
    x = natural_patches(1536, 0)
    again = sk.coding.DictionaryLearning(48, **SETTINGS).fit(x)
    np.testing.assert_allclose(again.components_, learner.components_, atol=1e-6)
    other = sk.coding.DictionaryLearning(48, seed=1, **SETTINGS).fit(x)
    assert np.abs(other.components_ - learner.components_).max() > 0.1


def test_positive_codes_and_sklearn_clone():
    x = natural_patches(512, 1)
    learner = sk.coding.DictionaryLearning(
        16, lam=0.02, n_iter=1, batch_size=512, positive_code=True
    )
    fresh = clone(learner)
    assert fresh.get_params() == learner.get_params()
    codes = learner.fit_transform(x)
    assert codes.shape == (512, 16) and codes.min() >= 0.0 and codes.max() > 0.0


def test_transform_checks(learner):
    with pytest.raises(NotFittedError):
        sk.coding.DictionaryLearning(4, lam=0.1).transform(np.ones((2, 64)))
    with pytest.raises(
        ValueError, match=r"`x`.*64 features.*Received: x.shape=\(2, 5\)"
    ):
        learner.transform(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"`x`.*finite.*Received: x containing"):
        learner.transform(np.full((2, 64), np.nan))


BAD_CALLS = [
    (dict(n_atoms=0), r"`n_atoms`.*Received: n_atoms=0"),
    (dict(lam=-1.0), r"`lam`.*Received: lam=-1.0"),
    (dict(n_iter=0), r"`n_iter`.*Received: n_iter=0"),
    (dict(batch_size=0), r"`batch_size`.*Received: batch_size=0"),
    (dict(code_n_iter=0), r"`code_n_iter`.*Received: code_n_iter=0"),
    (dict(seed=-1), r"`seed`.*Received: seed=-1"),
    (dict(positive_code="no"), r"`positive_code`.*Received: positive_code='no'"),
    (dict(verbose=1), r"`verbose`.*Received: verbose=1"),
]


def test_invalid_arguments():
    for kwargs, match in BAD_CALLS:
        args = dict(n_atoms=8, lam=0.1)
        args.update(kwargs)
        with pytest.raises(ValueError, match=match):
            sk.coding.DictionaryLearning(args.pop("n_atoms"), args.pop("lam"), **args)


def test_fit_rejects_bad_data():
    learner = sk.coding.DictionaryLearning(8, lam=0.1)
    with pytest.raises(ValueError, match=r"`x`.*2-D.*Received: x.shape=\(64,\)"):
        learner.fit(np.ones(64))


def test_verbose_prints_the_objective(capsys):
    sk.coding.DictionaryLearning(
        8, lam=0.02, n_iter=1, batch_size=512, verbose=True
    ).fit(natural_patches(512, 1))
    assert "epoch 1: objective" in capsys.readouterr().out


def test_lam_and_code_n_iter_sweep_traces_once_per_shape():
    # The codes' FISTA loop and the atom update are each traced once for the
    # minibatch shape; lam and code_n_iter reach them as tensors.
    loops = (proximal_loop.loop, dictionary_module._update_atoms)
    for loop in loops:
        loop.clear_cache()
    x = natural_patches(384, 2)[:, :36]
    errors = {}
    for lam in (0.01, 0.02, 0.05, 0.1, 0.2):
        for code_n_iter in (5, 10, 20):
            learner = sk.coding.DictionaryLearning(
                12, lam=lam, n_iter=1, batch_size=128, code_n_iter=code_n_iter
            ).fit(x)
            errors[lam, code_n_iter] = learner.error_[0]
    assert proximal_loop.loop.trace_count() == 1
    assert dictionary_module._update_atoms.trace_count() == 1
    assert len(set(errors.values())) == len(errors)  # every setting was used
    learner.transform(x)  # all 384 samples at once: a second shape
    learner.transform(x[::-1])
    assert proximal_loop.loop.trace_count() == 2
    for loop in loops:
        loop.clear_cache()
