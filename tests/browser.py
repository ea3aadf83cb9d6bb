"""The built book in a real browser: Debian's headless Chromium, driven by Playwright.

``Chromium`` opens pages of the built HTML (``file://``) with the network cut
off: every request that is not ``file:``/``data:``/``blob:`` is aborted and
reported. ``Chromium.check_page(url)`` returns the problems a reader would see:

- a formula MathJax has not rendered (a ``.math`` element without output, raw
  ``\\(``, ``\\[``, ``$$`` or ``$...$`` left in the text outside code), or one it
  rendered as an error (``mjx-merror``, or an undefined macro shown in red);
- an image that did not load (``naturalWidth == 0``), or a local file that failed;
- a console error or an uncaught exception;
- a request that leaves ``file://``;
- a download button whose file is not in the build, or a launch (Colab,
  Binder) or source button whose file is not in the repository.

``Chromium.search(url, term)`` runs the search page and returns the result
links; ``check_page(..., screenshot=path)`` also saves a full-page JPEG.
No browser is downloaded: Playwright drives ``/usr/bin/chromium``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

CHROMIUM = "/usr/bin/chromium"
# Playwright adds --headless, --no-sandbox (it runs as root here) and a fresh
# profile; these keep Chromium itself from calling home.
ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
TIMEOUT_MS = 30_000
# Screenshots: JPEG (a tenth of the time and size of PNG for long pages), at
# most this tall (the API page is ~50,000 px).
SHOT_MAX_HEIGHT = 12_000
SHOT_QUALITY = 80


@dataclass(frozen=True)
class Repository:
    """Where launch and source buttons should point: ``org/name`` at ``branch``,
    checked out at ``root``."""

    root: Path
    name: str
    branch: str


def chromium_path() -> str | None:
    """The system Chromium, or None (``scripts/system-packages.sh chromium``)."""
    found = shutil.which("chromium") or CHROMIUM
    return found if Path(found).is_file() else None


def file_url(path: Path) -> str:
    return path.resolve().as_uri()


def url_path(url: str) -> Path:
    """The file a ``file://`` URL names (without query or fragment)."""
    return Path(unquote(urlsplit(url).path))


def repository_file(href: str, repository: Repository) -> str | None:
    """The path inside the repository that a launch/source button opens, or
    None when ``href`` names no file of ``repository`` (an issue form, the
    repository's front page)."""
    parts = urlsplit(href)
    org_name = repository.name.strip("/")
    if parts.netloc == "colab.research.google.com":
        prefix = f"/github/{org_name}/blob/{repository.branch}/"
        return parts.path.removeprefix(prefix) if parts.path.startswith(prefix) else ""
    if parts.netloc.endswith("mybinder.org"):
        query = parse_qs(parts.query)
        if "labpath" in query:
            return query["labpath"][0]
        for urlpath in query.get("urlpath", []):
            for lead in ("lab/tree/", "tree/", "notebooks/"):
                if urlpath.startswith(lead):
                    return urlpath.removeprefix(lead)
        return ""
    if parts.netloc == "github.com" and parts.path.startswith(f"/{org_name}/"):
        rest = parts.path.removeprefix(f"/{org_name}/").split("/", 2)
        if len(rest) == 3 and rest[0] in ("blob", "edit", "tree"):
            if rest[1] != repository.branch:
                return ""
            return rest[2]
    return None


# Runs in the page once it has loaded: waits for MathJax and the images, then
# returns what a reader would see as broken. Raw TeX is looked for in text
# nodes outside code, outside MathJax's output and outside <script>/<style>.
_INSPECT = r"""
async () => {
  const problems = [];
  const short = (text) => text.replace(/\s+/g, " ").trim().slice(0, 120);
  const wantsMathJax = [...document.scripts].some((s) => /mathjax/i.test(s.src));
  if (wantsMathJax) {
    if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
      problems.push("MathJax did not load");
    } else {
      await MathJax.startup.promise;
      for (const item of MathJax.startup.document.math) {
        const mml = MathJax.startup.toMML(item.root);
        if (/<merror/.test(mml)) {
          problems.push(`MathJax error in formula: ${short(item.math)}`);
        } else if (/<mtext[^>]*mathcolor="red"[^>]*>\\/.test(mml)) {
          problems.push(`undefined macro in formula: ${short(item.math)}`);
        }
      }
    }
  }
  for (const node of document.querySelectorAll("mjx-merror")) {
    const why = node.getAttribute("data-mjx-error") || node.textContent;
    problems.push(`MathJax error node (mjx-merror): ${short(why)}`);
  }
  for (const node of document.querySelectorAll(".math")) {
    if (!node.querySelector("mjx-container")) {
      problems.push(`formula not rendered: ${short(node.textContent)}`);
    }
  }
  const skip = "script, style, noscript, textarea, template, pre, code, kbd, " +
    "samp, mjx-container, .highlight, .search-summary, #search-results";
  const raw = /\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\$(?=\S)[^$\n]{1,200}?(?<=\S)\$/;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    const match = node.data.match(raw);
    if (match) {
      const at = Math.max(0, match.index - 30);
      const context = short(node.data.slice(at, at + 90));
      problems.push(`raw TeX left in the text: ...${context}...`);
    }
  }
  const images = [...document.images];
  for (const img of images) img.loading = "eager";
  await Promise.all(images.map((img) => img.complete ? null : new Promise((done) => {
    img.addEventListener("load", done, { once: true });
    img.addEventListener("error", done, { once: true });
    setTimeout(done, 10000);
  })));
  for (const img of images) {
    if (!img.complete || img.naturalWidth === 0) {
      problems.push(`image did not load: ${img.getAttribute("src")}`);
    }
  }
  await document.fonts.ready;
  const selector = ".article-header-buttons a[href], .header-article-items a[href]";
  const buttons = [...new Set([...document.querySelectorAll(selector)].map(
    (a) => JSON.stringify([a.href, short(a.textContent || a.title || "")])))];
  return { problems, buttons: buttons.map((b) => JSON.parse(b)) };
}
"""


class Chromium:
    """One headless Chromium for a series of page checks::

    with Chromium() as chromium:
        problems = chromium.check_page(file_url(page), screenshot=png)
    """

    def __init__(self, executable: str | None = None, width: int = 1280):
        self.executable = executable or chromium_path() or CHROMIUM
        self.viewport = {"width": width, "height": 900}
        self._browsers: dict[bool, object] = {}  # file_fetch -> Browser
        self._contexts: dict[bool, object] = {}

    def __enter__(self) -> Chromium:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self._context_for(file_fetch=False)
        except BaseException:
            self._playwright.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            for browser in self._browsers.values():
                browser.close()
        finally:
            self._playwright.stop()

    def _context_for(self, file_fetch: bool):
        """The browser context, started on first use. ``file_fetch``: a second
        Chromium whose pages may ``fetch()`` files of the site, as they can when
        it is served over HTTP (a browser refuses that to ``file://`` pages)."""
        if file_fetch not in self._contexts:
            args = ARGS + (["--allow-file-access-from-files"] if file_fetch else [])
            browser = self._playwright.chromium.launch(
                executable_path=self.executable, args=args, timeout=TIMEOUT_MS
            )
            self._browsers[file_fetch] = browser
            context = browser.new_context(
                viewport=self.viewport, offline=True, service_workers="block"
            )
            context.set_default_timeout(TIMEOUT_MS)
            context.route("**/*", self._only_local)
            self._contexts[file_fetch] = context
        return self._contexts[file_fetch]

    @staticmethod
    def _only_local(route) -> None:
        if route.request.url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            route.abort("internetdisconnected")

    def _open(self, url: str, file_fetch: bool = False):
        """A new page showing ``url``, and the list its listeners fill."""
        page = self._context_for(file_fetch).new_page()
        seen: list[str] = []

        def on_request(request) -> None:
            if not request.url.startswith(LOCAL_SCHEMES):
                seen.append(f"request leaves file://: {request.url}")

        def on_failed(request) -> None:
            if request.url.startswith("file:"):
                why = request.failure or "failed"
                seen.append(f"local file failed to load ({why}): {request.url}")

        page.on("request", on_request)
        page.on("requestfailed", on_failed)
        page.on("websocket", lambda ws: seen.append(f"websocket opened: {ws.url}"))
        page.on(
            "console",
            lambda msg: (
                msg.type == "error"
                and seen.append(
                    f"console error: {msg.text} ({msg.location.get('url')})"
                )
            ),
        )
        page.on("pageerror", lambda error: seen.append(f"uncaught exception: {error}"))
        if url:
            page.goto(url, wait_until="load")
        return page, seen

    def check_page(
        self,
        url: str,
        *,
        repository: Repository | None = None,
        screenshot: Path | None = None,
    ) -> list[str]:
        """Everything wrong with the page at ``url`` (empty: it is fine).
        ``screenshot``: a JPEG of the whole page (up to SHOT_MAX_HEIGHT) there."""
        pages = self.check_pages({url: screenshot}, repository=repository)
        return pages[url]

    def check_pages(
        self,
        screenshots: dict[str, Path | None],
        *,
        repository: Repository | None = None,
        tabs: int = 3,
    ) -> dict[str, list[str]]:
        """``check_page`` for each URL (key), ``tabs`` pages loading at a time
        (MathJax typesetting is most of a page's time; a second core helps)."""
        results: dict[str, list[str]] = {}
        urls = list(screenshots)
        for start in range(0, len(urls), tabs):
            batch = urls[start : start + tabs]
            opened = [(url, *self._open("")) for url in batch]
            try:
                for url, page, _ in opened:  # start every load, then wait for each
                    page.goto(url, wait_until="commit")
                for url, page, seen in opened:
                    page.wait_for_load_state("load")
                    problems = self._inspect(page, repository, screenshots[url])
                    results[url] = problems + seen
            finally:
                for _, page, _ in opened:
                    page.close()
        return results

    def _inspect(self, page, repository, screenshot: Path | None) -> list[str]:
        result = page.evaluate(_INSPECT)
        problems = list(result["problems"])
        problems += _button_problems(result["buttons"], repository)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.bring_to_front()  # a background tab paints slowly
            height = page.evaluate("document.documentElement.scrollHeight")
            page.screenshot(
                path=str(screenshot),
                full_page=True,
                type="jpeg",
                quality=SHOT_QUALITY,
                clip={
                    "x": 0,
                    "y": 0,
                    "width": self.viewport["width"],
                    "height": min(height, SHOT_MAX_HEIGHT),
                },
            )
        return problems

    def search(
        self, search_page_url: str, term: str, *, file_fetch: bool = True
    ) -> tuple[list[str], list[str]]:
        """Runs the book's search page for ``term``: (result links, problems).
        Sphinx's search fetches each result page for its summary: allowed by
        default, as on the web server (``file_fetch=False``: as a reader who
        opens the HTML files locally, who gets titles and console errors)."""
        page, seen = self._open(f"{search_page_url}?q={quote(term)}", file_fetch)
        try:
            page.wait_for_selector("#search-results .search-summary")
            links = page.eval_on_selector_all(
                "#search-results ul.search li a", "links => links.map(a => a.href)"
            )
            return links, seen
        finally:
            page.close()


def _button_problems(buttons, repository: Repository | None) -> list[str]:
    """Download buttons must name a built file; launch and source buttons a
    file of the repository."""
    problems = []
    for href, label in buttons:
        if href.startswith("file:"):
            if not url_path(href).is_file():
                problems.append(f"button '{label}' points at a missing file: {href}")
        elif repository is not None:
            target = repository_file(href, repository)
            if target == "":
                problems.append(
                    f"button '{label}' is not for {repository.name}: {href}"
                )
            elif target is not None and not (repository.root / target).exists():
                problems.append(
                    f"button '{label}' opens {target}, not in the repository: {href}"
                )
    return problems
