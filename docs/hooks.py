"""MkDocs hooks of the offline docs site (loaded through the `hooks:` entry that docs/build.py writes).

Heading ids: GitHub's slugs (lower case, punctuation dropped, every space a hyphen: "Table 2 — synthetic task"
-> `table-2--synthetic-task`), so that `#anchor` links written for GitHub (README, experiments/REPORT.md) also
work on the site.

Math: `pymdownx.arithmatex` (generic mode) leaves `$...$` / `$$...$$` as `\\(...\\)` / `\\[...\\]` in
`arithmatex` spans; here they become MathML, which browsers render natively — no MathJax or KaTeX
script, no web fonts, nothing fetched from the network, and it works from file://.

Tables: every table (Markdown, notebook HTML output, `show_doc` parameters) is put in a
`<div class="table-wrap">` that scrolls sideways (docs/assets/extra.css), so a wide table scrolls inside
the content column instead of running past it, also before (or without) Material's JavaScript. In a
table of many columns a cell with a phrase in it gets `class="long"` and a minimum width, so that the
table scrolls rather than squeezing the phrase into a column a word wide.
"""
from __future__ import annotations
import html, logging, re

from latex2mathml.converter import convert

log = logging.getLogger('mkdocs.hooks.math')

_INLINE = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.S)
_BLOCK = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S)
# commands latex2mathml leaves as literal `\name` identifiers: show them as upright operator names
_UNKNOWN = re.compile(r'<mi>\\([A-Za-z]+)</mi>')


def tex_to_mathml(tex: str, display: str = 'inline') -> str:
    "MathML for the TeX source `tex` (HTML-escaped as in the page); the source as code when it can't be converted."
    src = html.unescape(tex).strip()
    try: mml = convert(src, display=display)
    except Exception as e:  # a malformed formula must not break the whole site
        log.warning(f"math not converted ({type(e).__name__}: {e}): {src!r}")
        return f'<code class="math-error">{html.escape(src)}</code>'
    mml = _UNKNOWN.sub(r'<mi mathvariant="normal">\1</mi>', mml)
    return mml.replace('<math ', f'<math alttext="{html.escape(src, quote=True)}" ', 1)


_TABLE_TAG = re.compile(r'<(/?)table\b[^>]*>', re.I)
TABLE_WRAP = '<div class="table-wrap">'


def wrap_tables(content: str) -> str:
    """`content` with each outermost `<table>...</table>` inside a `TABLE_WRAP` div (tables already wrapped stay as they
    are), and the phrases of tables of `MANY_COLUMNS` or more marked by `mark_long_cells`."""
    out, pos, depth, start = [], 0, 0, None
    for m in _TABLE_TAG.finditer(content):
        if not m.group(1):
            if depth == 0: start = m.start()
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                already = content[:start].rstrip().endswith(TABLE_WRAP)
                table = content[start:m.end()]
                if n_columns(table) >= MANY_COLUMNS: table = mark_long_cells(table)
                out += [content[pos:start]] + ([table] if already else [TABLE_WRAP, table, '</div>'])
                pos = m.end()
    return ''.join(out) + content[pos:]


_CELL = re.compile(r'<(td|th)(?![^>]*\bclass=)([^>]*)>(.*?)</\1>', re.S | re.I)
LONG_CELL = 40      # characters of text from which a cell holds a phrase
MANY_COLUMNS = 6    # columns from which a table would squeeze its phrases


def n_columns(table: str) -> int:
    "Cells in the first row of the HTML `table`."
    row = re.search(r'<tr\b.*?</tr>', table, re.S | re.I)
    return len(re.findall(r'<t[hd]\b', row.group(0), re.I)) if row else 0


def mark_long_cells(content: str) -> str:
    "`content` with `class=\"long\"` on table cells (and headers) of `LONG_CELL` characters of text or more, `long longer` from twice that."
    def f(m):
        tag, attrs, body = m.groups()
        text = html.unescape(re.sub(r'<[^>]+>', '', body)).strip()
        if len(text) < LONG_CELL or '<table' in body: return m.group(0)
        return f'<{tag} class="long{" longer" if len(text) >= 2 * LONG_CELL else ""}"{attrs}>{body}</{tag}>'
    return _CELL.sub(f, content)


def on_config(config):
    from pymdownx.slugs import slugify
    config.mdx_configs.setdefault('toc', {})['slugify'] = slugify(case='lower')
    return config


def on_page_content(content: str, page, config, files) -> str:
    content = _BLOCK.sub(lambda m: f'<div class="math-display">{tex_to_mathml(m.group(1), "block")}</div>', content)
    content = _INLINE.sub(lambda m: tex_to_mathml(m.group(1)), content)
    return wrap_tables(content)
