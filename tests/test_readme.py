"""The README's tour is code users paste: it must run as written."""

import re
from pathlib import Path

import matplotlib

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_tour_runs():
    text = README.read_text()
    tour = text.split("## A short tour", 1)[1]
    code = re.search(r"```python\n(.*?)```", tour, re.S).group(1)
    matplotlib.use("Agg")
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    sparsity = namespace["sk"].pruning.weight_sparsity(namespace["model"])
    assert abs(sparsity - 0.8) < 0.01
    assert namespace["codes"].shape == (10_000, 128)
    assert namespace["recovered"] > 0.9
