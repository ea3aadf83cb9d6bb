"""Strict build of the Jupyter Book, then checks on the built HTML.

One build per module (``-W -n --keep-going``: every Sphinx warning, including
unresolved cross-references, fails it) into a temporary folder. The build runs
with that folder as working directory, so the execution cache configured in
``_config.yml`` (``_build/.jupyter_cache``, relative) is fresh: every notebook
is really executed against the installed sparsekit, never served from the
cache of ``make book``.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from bs4 import BeautifulSoup

from tests import browser

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
MATHJAX = ROOT / "book" / "_static" / "mathjax" / "tex-chtml.js"
API_MODULES = [
    "layers",
    "regularizers",
    "dropout",
    "coding",
    "pruning",
    "metrics",
    "callbacks",
    "ops",
    "datasets",
    "robustness",
    "sae",
    "stats",
    "timing",
    "plot",
]
# nbgrader markers: solutions and hidden tests must never reach readers.
LEAK_MARKERS = ["BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "### BEGIN"]
NOT_BOOK = {"solutions", "exercises", "grading", "tests", "benchmarks", "sparsekit"}
BUILD_TIMEOUT_S = 1200


def _toc_files(node) -> list[str]:
    """Every ``root``/``file`` entry of a ``_toc.yml`` tree."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("root", "file") and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_toc_files(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_toc_files(item))
    return found


def _jupyter_book() -> str:
    exe = Path(sys.executable).with_name("jupyter-book")
    return str(exe) if exe.exists() else shutil.which("jupyter-book") or "jupyter-book"


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """Run the strict build once; returns (process, html folder)."""
    if not MATHJAX.exists():
        # A fresh clone: fetch MathJax the same way `make book` does.
        subprocess.run(["make", "mathjax"], cwd=ROOT, check=True)
    work = tmp_path_factory.mktemp("book")
    env = {
        **os.environ,
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_ENABLE_ONEDNN_OPTS": "0",
        # the notebook kernel and the Jupyter tools come from this environment
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    proc = subprocess.run(
        [_jupyter_book(), "build", "-W", "-n", "--keep-going"]
        + ["--path-output", str(work), str(ROOT)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    # kept beside the build, for reading a failed CI run's full log
    (work / "build.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    return proc, work / "_build" / "html"


@pytest.fixture(scope="module")
def html(build):
    """The built HTML folder (``--keep-going`` writes it even after warnings)."""
    proc, out = build
    if not (out / "index.html").is_file():
        pytest.fail(f"the book was not built:\n{_log(proc)[-6000:]}", pytrace=False)
    return out


def _log(proc: subprocess.CompletedProcess) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)


def _pages(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*.html") if "_static" not in p.parts)


def _soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_strict_build_passes(build):
    proc, _ = build
    log = _log(proc)
    # Sphinx reports "<where>: WARNING: <what>" (the kernel's own "WARNING |"
    # start-up notice is not a build warning)
    problems = [
        line
        for line in log.splitlines()
        if re.search(r"(^|: )(WARNING|ERROR|CRITICAL|SEVERE):", line)
    ]
    exit_code = proc.returncode
    assert exit_code == 0, (
        f"strict book build failed (exit {exit_code}):\n"
        + "\n".join(problems or log.splitlines()[-60:])
    )


def test_every_toc_page_is_built(html):
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = _toc_files(toc)
    assert files, "_toc.yml lists no pages"
    missing = [f for f in files if not (html / Path(f).with_suffix(".html")).is_file()]
    assert not missing, f"pages in _toc.yml without HTML: {missing}"


CHAPTER_PARTS = ("why", "advantages", "techniques", "applications", "conclusion")


def test_every_chapter_has_objectives_a_figure_and_references(html):
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    chapters = [f for f in _toc_files(toc) if Path(f).parts[1] in CHAPTER_PARTS]
    assert len(chapters) == 16, f"the course has 16 chapters; _toc.yml: {chapters}"
    for chapter in chapters:
        soup = _soup(html / Path(chapter).with_suffix(".html"))
        assert "Learning objectives" in soup.get_text(), chapter
        assert soup.select(".bd-article img"), f"{chapter}: no figure"
        cites = soup.select("a.reference[href*='bibliography.html']")
        assert cites, f"{chapter}: cites nothing"


def test_only_book_pages_are_built(html):
    # Pages and their sources mirror the source tree, so anything built from
    # outside book/ shows up under its own top-level folder. (viewcode's
    # _modules/sparsekit/... pages show the package source, as intended.)
    stray = []
    for path in html.rglob("*"):
        parts = path.relative_to(html).parts
        if parts[0] == "_sources":
            parts = parts[1:]
        if parts and parts[0] in NOT_BOOK:
            stray.append(path.relative_to(html))
    assert not stray, f"built from outside book/: {stray[:10]}"


def test_bibliography_lists_the_cited_works(html):
    soup = _soup(html / "book" / "bibliography.html")
    assert soup.select(".citation"), "the bibliography page is empty"


def test_executed_cells_have_no_errors(html):
    for page in _pages(html):
        soup = _soup(page)
        bad = soup.select(
            ".cell_output .stderr, .cell_output .traceback, .cell_output .error"
        )
        assert not bad, f"{page.name}: error output in a cell:\n{bad[0].get_text()}"
        assert "Traceback (most recent call last)" not in soup.get_text(), page.name


def test_mathjax_is_local(html):
    pages_with_maths = 0
    for page in _pages(html):
        soup = _soup(page)
        for script in soup.find_all("script", src=True):
            assert "cdn.jsdelivr" not in script["src"], f"{page.name}: {script['src']}"
        mathjax = [s["src"] for s in soup.find_all("script", src=True)]
        mathjax = [src for src in mathjax if "mathjax" in src.lower()]
        if not mathjax:
            continue
        pages_with_maths += 1
        for src in mathjax:
            parts = urlsplit(src)
            assert not parts.scheme and not parts.netloc, f"{page.name}: {src}"
            target = (page.parent / parts.path).resolve()
            assert target.is_file(), f"{page.name}: {src} -> {target} missing"
            assert target.is_relative_to(html.resolve())
    assert pages_with_maths, "no page loads MathJax (the intro has equations)"
    # and the fonts the CHTML output loads on demand are there too
    assert list((html / "_static" / "mathjax" / "output" / "chtml").rglob("*.woff"))


def test_api_page_lists_every_public_name(html):
    api = _soup(html / "book" / "api.html")
    ids = {tag["id"] for tag in api.find_all(id=True)}
    missing = []
    for name in API_MODULES:
        module = importlib.import_module(f"sparsekit.{name}")
        public = getattr(module, "__all__", None)
        assert public, f"sparsekit.{name} has no __all__"
        missing += [
            f"sparsekit.{name}.{obj}"
            for obj in public
            if f"sparsekit.{name}.{obj}" not in ids
        ]
    # autodoc skips a public name that has no docstring
    assert not missing, f"not on the API page (docstring missing?): {missing}"


def test_no_solutions_or_hidden_tests_leak(html):
    for path in html.rglob("*"):
        if not path.is_file() or "_static" in path.relative_to(html).parts:
            continue
        if path.suffix not in {".html", ".js", ".txt", ".ipynb", ".md", ".json"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for marker in LEAK_MARKERS:
            assert marker not in text, f"{path.relative_to(html)} contains {marker!r}"


def test_search_index_exists(html):
    index = html / "searchindex.js"
    assert index.is_file()
    text = index.read_text(encoding="utf-8")
    assert "book/intro" in text and "sparsekit" in text.lower()
    assert (html / "search.html").is_file()


def test_launch_and_download_buttons(html):
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    org_repo = urlsplit(config["repository"]["url"]).path.strip("/")
    links = [
        a["href"] for a in _soup(html / "book" / "intro.html").find_all("a", href=True)
    ]
    assert any("mybinder.org" in h and org_repo in h for h in links), "no Binder link"
    assert any("colab.research.google.com" in h and org_repo in h for h in links)
    assert any(h.endswith("_sources/book/intro.ipynb") for h in links), "no .ipynb"


def test_launch_buttons_open_a_notebook_in_the_repository(html):
    """Colab and Binder get the paired .ipynb of each chapter, never its .md."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    org_repo = urlsplit(config["repository"]["url"]).path.strip("/")
    branch = config["repository"]["branch"]
    colab_prefix = f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/"
    checked = 0
    for page in _pages(html):
        links = [a["href"] for a in _soup(page).find_all("a", href=True)]
        # the page's own launch button (the exercises page also links releases)
        colab = [h for h in links if h.startswith(colab_prefix + "book/")]
        binder = [h for h in links if "mybinder.org" in h]
        if not colab:
            continue  # not a notebook page (appendices, API)
        assert len(colab) == 1 and colab[0].startswith(colab_prefix), colab
        target = colab[0].removeprefix(colab_prefix)
        assert target.endswith(".ipynb"), f"{page.name}: Colab opens {target}"
        assert (ROOT / target).is_file(), f"{page.name}: {target} is not committed"
        assert binder and binder[0].endswith(target), binder
        checked += 1
    assert checked >= 16, checked


# The built book in a real browser: Debian's headless Chromium, network cut off
# (tests/browser.py). Every page of the table of contents (and the index and
# search pages) must render all its maths, load all its images, log no console
# error and make no request outside file://; its download buttons name built
# files and its launch/source buttons files of this repository. A screenshot
# of each is saved under _build/screenshots/ for a person to look at.
SCREENSHOTS = ROOT / "_build" / "screenshots"
SEARCH_TERMS = ["sparsity", "dropout", "pruning", "autoencoder", "dictionary"]
# Console errors of the book's dependencies, not of its content; each exactly.
KNOWN_PROBLEMS = {
    # sphinx-thebe 0.3.1 adds its inline config script twice under Sphinx 7.4
    # (the second `const` fails; the first has run, and thebe is not enabled).
    "uncaught exception: Identifier 'THEBE_JS_URL' has already been declared",
}


def _repository() -> browser.Repository:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return browser.Repository(
        root=ROOT,
        name=urlsplit(config["repository"]["url"]).path.strip("/"),
        branch=config["repository"]["branch"],
    )


def _toc_pages(out: Path) -> list[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [out / Path(f).with_suffix(".html") for f in _toc_files(toc)]


@pytest.fixture(scope="module")
def chromium():
    if browser.chromium_path() is None:
        pytest.fail(
            "no Chromium: run scripts/system-packages.sh chromium", pytrace=False
        )
    with browser.Chromium() as opened:
        yield opened


def _check(chromium, page: Path, **options) -> list[str]:
    problems = chromium.check_page(browser.file_url(page), **options)
    return [problem for problem in problems if problem not in KNOWN_PROBLEMS]


def test_every_page_in_a_browser(html, chromium):
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    pages = _toc_pages(html) + [html / "genindex.html", html / "search.html"]
    shots = {}
    for page in pages:
        name = "-".join(page.relative_to(html).with_suffix("").parts)
        shots[browser.file_url(page)] = (
            SCREENSHOTS / f"{name.removeprefix('book-')}.jpg"
        )
    results = chromium.check_pages(shots, repository=_repository())
    report = [
        f"{browser.url_path(url).relative_to(html)}: {problem}"
        for url, problems in results.items()
        for problem in problems
        if problem not in KNOWN_PROBLEMS
    ]
    assert not report, "\n".join(report)
    assert len(list(SCREENSHOTS.glob("*.jpg"))) == len(pages)


def test_search_page_finds_course_terms(html, chromium):
    # Sphinx's search fetches each result page for its summary: allowed, as on
    # the web server (a browser refuses it to a file:// page, so a reader who
    # opens _build/html locally gets titles without summaries).
    search = browser.file_url(html / "search.html")
    for term in SEARCH_TERMS:
        links, problems = chromium.search(search, term, file_fetch=True)
        problems = [p for p in problems if p not in KNOWN_PROBLEMS]
        assert not problems, f"searching {term!r}: {problems}"
        assert links, f"searching {term!r} found nothing"
        for link in links:
            assert browser.url_path(link).is_file(), f"{term!r} -> {link}"


@pytest.fixture(scope="module")
def html_copy(html, tmp_path_factory) -> Path:
    """A copy of the built HTML to break (a few MB with MathJax)."""
    copy = tmp_path_factory.mktemp("broken") / "html"
    shutil.copytree(html, copy)
    return copy


def _chapters(out: Path) -> list[Path]:
    return [page for page in _toc_pages(out) if page.parent.name in CHAPTER_PARTS]


INLINE_MATHS = r'<span class="math notranslate nohighlight">\('


def test_browser_check_fails_when_a_formula_does_not_render(html_copy, chromium):
    # the first chapter with inline maths (the image test breaks the last one)
    page = next(p for p in _chapters(html_copy) if INLINE_MATHS in p.read_text("utf-8"))
    assert _check(chromium, page) == [], "the copy is not clean"
    text = page.read_text(encoding="utf-8")
    assert text.count(INLINE_MATHS) >= 2, page.name
    # an undefined macro, then a TeX error, in the page's first two formulas
    text = text.replace(INLINE_MATHS, INLINE_MATHS + r"\notamacro{x} + ", 1)
    first = text.index(INLINE_MATHS) + len(INLINE_MATHS)
    text = text[:first] + text[first:].replace(
        INLINE_MATHS, INLINE_MATHS + r"\left(", 1
    )
    # and TeX that never reached MathJax: raw delimiters in a paragraph
    article = text.index('<article class="bd-article"')
    para = text.index("<p>", article)
    raw = r"<p>Raw $\beta^2$, in dollars.</p><p>Raw \(\alpha\), in parentheses.</p>"
    text = text[:para] + raw + text[para:]
    page.write_text(text, encoding="utf-8")
    problems = _check(chromium, page)
    assert any(r"undefined macro in formula: \notamacro{x}" in p for p in problems)
    assert any("mjx-merror" in p for p in problems), problems
    raw = [p for p in problems if p.startswith("raw TeX left in the text")]
    assert any(r"Raw \(\alpha\), in parentheses" in p for p in raw), problems
    assert any(r"Raw $\beta^2$, in dollars" in p for p in raw), problems


def test_browser_check_fails_when_an_image_is_missing(html_copy, chromium):
    page = _chapters(html_copy)[-1]
    src = _soup(page).select(".bd-article img")[0]["src"]
    assert _check(chromium, page) == [], "the copy is not clean"
    (page.parent / src).unlink()
    problems = _check(chromium, page)
    assert f"image did not load: {src}" in problems, problems
    assert any("console error" in p and Path(src).name in p for p in problems)
