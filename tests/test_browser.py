"""The browser checker (tests/browser.py) on small hand-written pages.

These need no book build (the checks on the real book, and on a broken copy of
a built chapter, are in tests/test_book.py, which owns the build): a page that a
reader would find fine passes, and each kind of breakage is reported. MathJax is
the copy the book serves (``make mathjax``); Chromium is Debian's
(``scripts/system-packages.sh chromium``, a prerequisite of ``make test``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests import browser

ROOT = Path(__file__).resolve().parents[1]
MATHJAX = ROOT / "book" / "_static" / "mathjax"
# As Sphinx writes it: MathJax only looks inside .math elements and cell outputs.
HEAD = """<!DOCTYPE html><html><head><meta charset="utf-8">
<script>window.MathJax = {"options": {"ignoreHtmlClass":
  "tex2jax_ignore|mathjax_ignore|document", "processHtmlClass":
  "tex2jax_process|mathjax_process|math|output_area"}}</script>
<script defer src="mathjax/tex-chtml.js"></script></head>
<body><div class="document">
"""
PNG = bytes.fromhex(  # 1x1 pixel
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def require_chromium() -> str:
    found = browser.chromium_path()
    if found is None:
        pytest.fail(
            "no Chromium: run scripts/system-packages.sh chromium", pytrace=False
        )
    return found


@pytest.fixture(scope="module")
def chromium():
    require_chromium()
    with browser.Chromium() as opened:
        yield opened


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if not (MATHJAX / "tex-chtml.js").exists():
        subprocess.run(["make", "mathjax"], cwd=ROOT, check=True)
    folder = tmp_path_factory.mktemp("site")
    (folder / "mathjax").symlink_to(MATHJAX)
    (folder / "dot.png").write_bytes(PNG)
    return folder


def _page(site: Path, name: str, body: str) -> str:
    path = site / f"{name}.html"
    path.write_text(HEAD + body + "\n</div></body></html>", encoding="utf-8")
    return browser.file_url(path)


GOOD = r"""
<p>Inline <span class="math notranslate nohighlight">\(\|w\|_1 = \sum_i |w_i|\)</span>
costs $5 or $10 (dollars in prose are not maths).</p>
<div class="math notranslate nohighlight">\[\min_w \tfrac12\|y - Xw\|^2\]</div>
<pre>echo $HOME \(not maths\)</pre><p><code>$x$</code></p>
<img src="dot.png" alt="a dot">
"""


def test_a_good_page_has_no_problems(chromium, site, tmp_path):
    shot = tmp_path / "good.jpg"
    assert chromium.check_page(_page(site, "good", GOOD), screenshot=shot) == []
    assert shot.stat().st_size > 1000


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (r'<span class="math">\(\notamacro{x}\)</span>', "undefined macro"),
        (r'<span class="math">\(\frac{1}\)</span>', "mjx-merror"),
        (r'<div class="math">\[\frac{1}{2\]</div>', "formula not rendered"),
        (r"<p>raw \(a + b\) in prose</p>", "raw TeX"),
        (r"<p>raw $a^2$ in prose</p>", "raw TeX"),
        (r"<p>raw $$a^2$$ display</p>", "raw TeX"),
        ('<img src="gone.png" alt="">', "image did not load: gone.png"),
        ('<img src="https://example.org/a.png" alt="">', "request leaves file://"),
        ("<script>console.error('boom')</script>", "console error: boom"),
        ("<script>undefinedFunction()</script>", "uncaught exception"),
        ('<link rel="stylesheet" href="gone.css">', "local file failed"),
    ],
    ids=[
        "undefined-macro",
        "tex-error",
        "unclosed",
        "raw-paren",
        "raw-dollar",
        "raw-display",
        "missing-image",
        "remote-image",
        "console",
        "exception",
        "missing-css",
    ],
)
def test_each_breakage_is_reported(chromium, site, body, expected):
    problems = chromium.check_page(_page(site, "broken", GOOD + body))
    assert any(expected in problem for problem in problems), problems


def test_buttons_must_point_at_files(chromium, site, tmp_path):
    repo = browser.Repository(root=tmp_path, name="org/course", branch="main")
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "ch.ipynb").write_text("{}")
    colab = "https://colab.research.google.com/github/org/course/blob/main/book/"
    buttons = f"""<div class="article-header-buttons">
    <a href="dot.png">ok download</a><a href="gone.ipynb">bad download</a>
    <a href="{colab}ch.ipynb">ok colab</a><a href="{colab}gone.ipynb">bad colab</a>
    <a href="https://mybinder.org/v2/gh/org/course/main?urlpath=tree/book/gone.ipynb">
    bad binder</a><a href="https://github.com/org/course/issues/new">issue</a></div>"""
    problems = chromium.check_page(_page(site, "buttons", buttons), repository=repo)
    assert len(problems) == 3, problems
    assert "gone.ipynb" in problems[0] and "bad download" in problems[0]
    assert "book/gone.ipynb" in problems[1] and "bad colab" in problems[1]
    assert "book/gone.ipynb" in problems[2] and "bad binder" in problems[2]
