"""sparse_autoencoders: what its answers may not use is seen, however delegated.

The release's `sk_grading.forbidden` says Parts 1-3 are keras.ops code (no
sparsekit, which has its own SAE pieces, no backend library, no ready-made
normaliser in Part 3) and that Part 4's `train_sae` may not reach the data's
generator. Each case is a cheating student's cell; the pre-check (no kernel) must
flag it `needs_manual` in the cell that cheats. What the assignment allows
(`keras.ops.top_k`, `sk.sae` in Part 4) must raise no flag. Graded for real, one
delegating student keeps its points but is flagged.
"""

from __future__ import annotations

import nbformat
import pytest

from grading.checks import check_submission

from .conftest import REPO, grading, read_csv

NAME = "sparse_autoencoders"
RELEASE = REPO / "exercises" / NAME

# The rest of an answer that the cases below complete: a correct keras.ops body.
TOPK_TAIL = (
    "    mask = keras.ops.sum(keras.ops.one_hot(i, pre.shape[-1]), axis=-2)\n"
    "    return keras.ops.relu(pre) * keras.ops.stop_gradient(mask)\n"
)

CHEATS = {
    "topk_mask": (
        {
            "topk_activation": "def topk_activation(pre, k):\n"
            "    mask = sk.ops.topk_mask(pre, k)\n"
            "    return keras.ops.relu(pre) * keras.ops.stop_gradient(mask)"
        },
        "uses sparsekit (not allowed in this answer) in cell topk_activation",
    ),
    "sae_activation": (
        {
            "topk_activation": "from sparsekit.sae.activations import topk as _t\n"
            "def topk_activation(pre, k):\n    return _t(pre, k)"
        },
        "uses sparsekit (not allowed in this answer) in cell topk_activation",
    ),
    "tf_top_k": (
        {
            "topk_activation": "import tensorflow as tf\n"
            "def topk_activation(pre, k):\n    _, i = tf.math.top_k(pre, k)\n"
            + TOPK_TAIL
        },
        "uses tensorflow (not allowed in this answer) in cell topk_activation",
    ),
    "helper_elsewhere": (
        {
            "train_sae": "def _mask(pre, k):\n    return sk.ops.topk_mask(pre, k)",
            "topk_activation": "def topk_activation(pre, k):\n"
            "    return keras.ops.relu(pre) * _mask(pre, k)",
        },
        "uses sparsekit (not allowed in this answer) in cell topk_activation",
    ),
    "aux_dynamic": (
        {
            "auxk_loss": "def auxk_loss(x, x_hat, pre, dead, atoms, aux_k):\n"
            "    m = getattr(sk, 'sae').SparseAutoencoder\n"
            "    raise NotImplementedError(m)"
        },
        "reaches into sparsekit dynamically (not allowed here) in cell auxk_loss",
    ),
    "unit_norm": (
        {
            "decoder_norm": "class UnitNormRows(keras.constraints.Constraint):\n"
            "    def __call__(self, w):\n"
            "        return keras.constraints.UnitNorm(axis=1)(w)"
        },
        "uses keras.constraints.UnitNorm (not allowed in this answer) in cell "
        "decoder_norm",
    ),
    "ops_normalize": (
        {
            "decoder_norm": "from keras import ops as o\n"
            "class UnitNormRows(keras.constraints.Constraint):\n"
            "    def __call__(self, w):\n        return o.normalize(w, axis=1)"
        },
        "uses keras.ops.normalize (not allowed in this answer) in cell decoder_norm",
    ),
    "seed_search": (
        {
            "train_sae": "def train_sae(x, seed=0):\n    for s in range(10**4):\n"
            "        d = sk.datasets.superposition(256, 64, 0.02, 20000, seed=s)\n"
            "        if (d.x == x).all():\n            return d.directions"
        },
        "uses sparsekit.datasets (not allowed in this answer) in cell train_sae",
    ),
    "frame_peek": (
        {
            "train_sae": "import sys\ndef train_sae(x, seed=0):\n"
            "    return sys._getframe(1).f_locals"
        },
        "uses ._getframe in cell train_sae",
    ),
}

ALLOWED = {
    # keras.ops.top_k is the portable top-k the notebook allows in Part 1.
    "topk_activation": "def topk_activation(pre, k):\n"
    "    _, i = keras.ops.top_k(pre, k)\n" + TOPK_TAIL,
    # Part 4 may train sparsekit's SAE.
    "train_sae": "def train_sae(x, seed=0):\n"
    "    sae = sk.sae.SparseAutoencoder(512, activation='topk', k=6, seed=seed)\n"
    "    sae.compile(keras.optimizers.Adam(5e-3))\n"
    "    sae.fit(x, epochs=8, batch_size=256, verbose=0)\n"
    "    return sae.dictionary",
}


def _submit(folder, cells: dict[str, str]):
    nb = nbformat.read(RELEASE / f"{NAME}.ipynb", as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in cells:
            cell.source = cells[grade_id]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{NAME}.ipynb")
    return folder


@pytest.mark.parametrize("case", sorted(CHEATS))
def test_a_delegated_answer_is_flagged(tmp_path, case):
    cells, message = CHEATS[case]
    found = check_submission(_submit(tmp_path, cells), RELEASE, seconds=60)
    assert not found.failed, found
    assert any(message in note for note in found.manual), found


def test_what_the_assignment_allows_raises_no_flag(tmp_path):
    found = check_submission(_submit(tmp_path, ALLOWED), RELEASE, seconds=60)
    assert (found.failed, found.manual) == ([], []), found


@pytest.mark.slow
def test_a_delegating_student_keeps_its_points_but_is_flagged(tmp_path):
    """Graded for real: Part 1 done by `sk.ops.topk_mask` is right, so its 4
    points count, and the row says why it needs a look."""
    cells = dict(CHEATS["topk_mask"][0])
    subs = tmp_path / "subs"
    _submit(subs / "delegates" / NAME, cells)
    out = tmp_path / "out"
    done = grading(
        "run", NAME, "--submissions", str(subs), "--out", str(out), "--workers", "1"
    )
    assert done.returncode == 0, done.stderr
    row = read_csv(out / f"{NAME}.csv")["delegates"]
    assert (row["status"], row["score"]) == ("needs_manual", "4"), row
    assert "uses sparsekit (not allowed in this answer)" in row["reason"], row
