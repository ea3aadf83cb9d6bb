"""Render Keras-style (Markdown-flavoured) docstrings with Sphinx autodoc.

sparsekit follows the Keras docstring convention: Google sections (``Args:``,
``Returns:``, ``Example:``) plus ``Call arguments:``, with Markdown inline code
(single backticks) and Markdown code fences. reStructuredText reads single
backticks as "interpreted text" and does not know fences, so before napoleon
parses the sections this extension rewrites, outside doctest blocks:

- ```` ```lang ```` ... ```` ``` ```` fences into ``.. code-block:: lang``;
- `` `code` `` into ``code`` (inline literal), leaving roles such as
  ``:class:`Foo``` and hyperlinks such as `` `text <url>`_ `` alone;
- Markdown indented code blocks (a blank line, then lines indented deeper than
  the paragraph before, not under a section header such as ``Args:``) into
  ``.. code-block:: text`` (reStructuredText would make them block quotes);
- ``|`` in prose (``|w|`` means an absolute value in Markdown, a substitution
  reference in reStructuredText) into ``\\|``.

It also keeps members that a sparsekit class gets from its bases' machinery (e.g.
scikit-learn's generated ``set_fit_request``) off the API page: a class member is
documented only when it is defined in sparsekit.

``Call arguments:`` is registered as a napoleon section in ``_config.yml``.
"""

from __future__ import annotations

import re

from sphinx.application import Sphinx

_FENCE = re.compile(r"^(?P<indent>\s*)```\s*(?P<lang>[\w+-]*)\s*$")
# A single-backtick span that is not part of a role (:role:`x`), a double-backtick
# literal, or a hyperlink reference (`text <url>`_ / `text`_).
_INLINE = re.compile(r"(?<![`:\w\\])`(?!`)(?P<body>[^`\n]+?)`(?![`_\w])")
# A Google/Keras section header ("Args:", "Call arguments:", "Example:").
_SECTION = re.compile(r"^\s*[A-Z][A-Za-z ]*:\s*$")
# Inline literals and roles, where a "|" is code and must stay as it is.
_CODE = re.compile(r"(``.+?``|:[\w:]+:`[^`]*`)")


def _prose_line(line: str) -> str:
    line = _INLINE.sub(r"``\g<body>``", line)
    parts = _CODE.split(line)
    # even indices are prose, odd ones the code spans kept by the capture group
    parts[::2] = [re.sub(r"(?<!\\)\|", r"\\|", part) for part in parts[::2]]
    return "".join(parts)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _opens_code_block(line: str, previous: str | None, after_blank: bool) -> bool:
    """Whether ``line`` starts a Markdown indented code block."""
    return (
        after_blank
        and previous is not None
        and _indent(line) > _indent(previous)
        and not _SECTION.match(previous)
        and not line.lstrip().startswith(">>>")
    )


def markdown_to_rst(lines: list[str]) -> list[str]:
    """Return docstring ``lines`` with Markdown code spans and blocks as RST."""
    out: list[str] = []
    fence_indent: str | None = None
    block_indent: int | None = None  # inside an indented code block
    previous: str | None = None  # the last non-blank line outside code blocks
    after_blank = False
    in_doctest = False
    for line in lines:
        if block_indent is not None:
            if not line.strip() or _indent(line) > block_indent:
                out.append(line)
                continue
            block_indent = None
        if fence_indent is None and line.strip() and not _FENCE.match(line):
            if _opens_code_block(line, previous, after_blank):
                block_indent = _indent(previous)
                if not previous.rstrip().endswith("::"):  # else already literal
                    out.extend([f"{' ' * block_indent}.. code-block:: text", ""])
                out.append(line)
                continue
        if fence_indent is not None:  # inside a fenced block
            closing = _FENCE.match(line)
            if closing and not closing.group("lang"):
                fence_indent = None
                out.append("")
            else:
                if line.startswith(fence_indent):
                    body = line[len(fence_indent) :]
                else:
                    body = line.lstrip()
                out.append(f"{fence_indent}   {body}" if body.strip() else "")
            continue
        match = _FENCE.match(line)
        if match:
            fence_indent = match.group("indent")
            lang = match.group("lang") or "text"
            if out and out[-1].strip():
                out.append("")
            out.extend([f"{fence_indent}.. code-block:: {lang}", ""])
            continue
        stripped = line.lstrip()
        after_blank = not stripped
        if stripped:
            previous = line
        if stripped.startswith(">>>"):
            in_doctest = True
        elif not stripped:
            in_doctest = False
        out.append(line if in_doctest else _prose_line(line))
    if fence_indent is not None:  # unterminated fence: close the block
        out.append("")
    return out


def _process_docstring(app, what, name, obj, options, lines: list[str]) -> None:
    lines[:] = markdown_to_rst(lines)


def _skip_foreign_member(app, what, name, obj, skip, options):
    module = getattr(obj, "__module__", None)
    if what in ("class", "exception") and isinstance(module, str):
        if module.split(".")[0] != "sparsekit":
            return True
    return None  # let autodoc decide


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx.ext.autodoc")
    # Before napoleon (priority 500) turns the Google sections into fields.
    app.connect("autodoc-process-docstring", _process_docstring, priority=400)
    app.connect("autodoc-skip-member", _skip_foreign_member)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
