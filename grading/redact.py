"""Feedback preprocessors: hide what hidden tests print, raise or hand over, and
make the page safe to open.

`ClearHiddenTests` removes hidden test *source* only; a failing hidden assert still
shows its line in the traceback, and prints show expected values. Worse, the
student's code runs in the same kernel as the hidden tests and can read their
source there (the calling frame, `linecache`), then show it in any later output:
a later cell's print, an exception it raises in a visible test. So from the first
cell with hidden tests on, outputs are reduced to a one-line summary (this runs
while the markers are still there, before `ClearHiddenTests`); earlier outputs
are kept, and bounded.py keeps display updates from reaching back into them.

`SafeHTML` is nbconvert's bleach-based `SanitizeHTML` with the tags plain
outputs need (tables, images): no scripts, event handlers or `javascript:` links
from outputs or written answers reach the feedback or formgrader's pages.
"""

from __future__ import annotations

import builtins
import re
from html.parser import HTMLParser

import bleach
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors import Preprocessor
from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbformat import NotebookNode
from nbformat.v4 import new_output
from traitlets import Bool

MARKER = "BEGIN HIDDEN TESTS"
# An exception's name is the student's to choose; only these are shown.
KNOWN_ERRORS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
} | {"CellTimeoutError"}


def first_hidden(nb: NotebookNode) -> int | None:
    """Index of the first code cell with hidden tests, if any."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and MARKER in cell.source:
            return index
    return None


class RedactHiddenOutputs(Preprocessor):
    """From the first cell with hidden tests on, outputs become a summary line."""

    enabled = Bool(True)  # nbgrader registers preprocessors without enabling them

    def preprocess(self, nb, resources):
        start = first_hidden(nb)
        if start is None:
            return nb, resources
        for cell in nb.cells[start:]:
            if cell.cell_type == "code":
                cell.outputs = _summary(cell.get("outputs", []), MARKER in cell.source)
        return nb, resources


def _summary(outputs: list, hidden: bool) -> list:
    why = "this cell has hidden tests" if hidden else "it ran after hidden tests"
    errors = [o for o in outputs if o.output_type == "error"]
    if errors:
        name = errors[0].ename if errors[0].ename in KNOWN_ERRORS else "An error"
        text = f"{name} (details hidden: {why})\n"
    elif any(o.output_type == "stream" and o.name == "stderr" for o in outputs):
        text = f"Output on stderr (details hidden: {why})\n"
    elif outputs and not hidden:
        text = f"(output hidden: {why})\n"
    else:
        return []
    return [new_output("stream", name="stderr", text=text)]


# bleach's defaults plus what plain outputs use; attributes carry no script.
_TAGS = set(bleach.ALLOWED_TAGS) | {
    "p", "div", "span", "pre", "br", "hr", "table", "thead", "tbody", "tfoot",
    "tr", "th", "td", "caption", "h1", "h2", "h3", "h4", "h5", "h6", "img",
    "sub", "sup", "dl", "dt", "dd", "del", "ins", "kbd", "samp", "var", "small",
    "s", "u", "mark", "input",
}  # fmt: skip
_ATTRIBUTES = {
    **bleach.ALLOWED_ATTRIBUTES,
    "img": ["src", "alt", "title", "width", "height"],
    "th": ["colspan", "rowspan", "align"],
    "td": ["colspan", "rowspan", "align"],
    "ol": ["start"],
    "input": ["type", "checked", "disabled"],
    "*": ["class", "title", "id"],
}
_SCHEMES = ("http:", "https:", "mailto:", "data:image/png", "data:image/jpeg")
_SCHEMES += ("data:image/gif",)
# MathJax macros that make links or attributes (rendered in the browser).
_MATH_MACROS = re.compile(r"\\(href|class|cssId|style|data|unicode|require)\b")
_IMAGES = {"image/png", "image/jpeg", "image/gif"}
_ALIGN = r"text-align: ?(left|right|center);?"  # markdown tables' columns


class SafeHTML(SanitizeHTML):
    """nbconvert's `SanitizeHTML` (bleach) with table/image tags, enabled.

    Markdown is not bleached (that breaks `$a<b$`): it is rendered as nbconvert
    renders it and kept only if the HTML holds nothing but allowed tags,
    attributes and link schemes; otherwise it is shown as plain text. nbconvert
    lets `[x](javascript:...)` through, so links must be checked after rendering.
    """

    enabled = Bool(True)

    def __init__(self, **kw):
        kw.setdefault("tags", sorted(_TAGS))
        kw.setdefault("attributes", _ATTRIBUTES)
        super().__init__(**kw)

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)  # rendered by widget JavaScript
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        cell.metadata.pop("tags", None)  # templates put tags in class attributes
        if cell.cell_type in ("markdown", "raw"):
            attachments = cell.get("attachments", {})
            for name, bundle in list(attachments.items()):
                if not isinstance(bundle, dict) or not set(bundle) <= _IMAGES:
                    del attachments[name]
            if cell.cell_type == "markdown":
                cell.source = safe_markdown(cell.source, attachments)
            else:
                cell.source = self.sanitize_html_tags(cell.source)
            return cell, resources
        if cell.cell_type == "code":
            for out in cell.get("outputs", []):
                if "metadata" in out:
                    out.metadata = _plain_metadata(out.metadata)
            cell.outputs = self.sanitize_code_outputs(cell.get("outputs", []))
            for out in cell.outputs:
                data = out.get("data", {})
                if "text/markdown" in data:
                    text = data["text/markdown"]
                    if safe_markdown(text) != text:
                        del data["text/markdown"]
                        data.setdefault("text/plain", text)
                if _MATH_MACROS.search(data.get("text/latex", "")):
                    data.setdefault("text/plain", data.pop("text/latex"))
        return cell, resources


def safe_markdown(source: str, attachments: dict | None = None) -> str:
    """`source` if its rendering is harmless, else the same text as a code block."""
    if not isinstance(source, str):
        source = "".join(source)
    renderer = IPythonRenderer(escape=False, attachments=attachments or {})
    try:
        rendered = MarkdownWithMath(renderer=renderer).render(source)
    except Exception:  # e.g. a missing attachment: formgrader would fail too
        rendered = "<script>"
    if not _MATH_MACROS.search(source) and _harmless(rendered):
        return source
    fence = "~" * max(3, 1 + max((len(r) for r in re.findall("~+", source)), default=0))
    note = "*[grader: shown as plain text, it held markup that is not allowed]*"
    return f"{note}\n\n{fence}\n{source}\n{fence}\n"


class _Audit(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.bad = False

    def handle_starttag(self, tag, attrs):
        allowed = set(_ATTRIBUTES.get(tag, [])) | set(_ATTRIBUTES["*"])
        if tag not in _TAGS:
            self.bad = True
        for name, value in attrs:
            align = name == "style" and re.fullmatch(_ALIGN, value or "")
            if name not in allowed and not align:
                self.bad = True
            if name in ("href", "src") and not _safe_url(value or ""):
                self.bad = True

    handle_startendtag = handle_starttag


def _safe_url(url: str) -> bool:
    # Browsers ignore control characters and whitespace inside a scheme.
    squeezed = re.sub(r"[\x00-\x20\x7f]+", "", url).lower()
    scheme = re.match(r"^[a-z][a-z0-9+.-]*:", squeezed)
    return scheme is None or squeezed.startswith(_SCHEMES)


def _harmless(rendered: str) -> bool:
    audit = _Audit()
    audit.feed(rendered)
    audit.close()
    return not audit.bad


def _plain_metadata(meta: dict) -> dict:
    kept = {}
    for mime, value in meta.items():
        if isinstance(value, dict):
            sizes = {
                k: v
                for k, v in value.items()
                if k in ("width", "height") and isinstance(v, (int, float))
            }
            if sizes:
                kept[mime] = sizes
    return kept


def sanitize_notebook(nb: NotebookNode) -> NotebookNode:
    """The notebook with its outputs and markdown made safe to render."""
    nb, _ = SafeHTML().preprocess(nb, {})
    return nb
