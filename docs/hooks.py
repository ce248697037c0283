"""MkDocs hooks of the offline docs site (loaded through the `hooks:` entry that docs/build.py writes).

Heading ids: GitHub's slugs (lower case, punctuation dropped, every space a hyphen: "Table 2 — synthetic task"
-> `table-2--synthetic-task`), so that `#anchor` links written for GitHub (README, experiments/REPORT.md) also
work on the site.

Math: `pymdownx.arithmatex` (generic mode) leaves `$...$` / `$$...$$` as `\\(...\\)` / `\\[...\\]` in
`arithmatex` spans; here they become MathML, which browsers render natively — no MathJax or KaTeX
script, no web fonts, nothing fetched from the network, and it works from file://.
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


def on_config(config):
    from pymdownx.slugs import slugify
    config.mdx_configs.setdefault('toc', {})['slugify'] = slugify(case='lower')
    return config


def on_page_content(content: str, page, config, files) -> str:
    content = _BLOCK.sub(lambda m: f'<div class="math-display">{tex_to_mathml(m.group(1), "block")}</div>', content)
    return _INLINE.sub(lambda m: tex_to_mathml(m.group(1)), content)
