#!/usr/bin/env python
"""Build the offline documentation site of reformer_repro: notebooks -> nbdev doc processors -> Markdown -> MkDocs.

    python docs/build.py                  # site in docs/site/ (git-ignored); open docs/site/index.html
    python docs/build.py --site /tmp/s    # somewhere else
    python docs/build.py --no-exec        # quick look: no `show_doc` execution (API pages without signatures)
    python docs/build.py --repo-url https://github.com/OWNER/reformer_repro   # link sources to a published repository

No network and no Quarto (for Quarto users `nbdev-docs` / `nbdev-preview` keep working from nbs/).

Repository links are off unless a repository is named (`--repo-url`, or `$DOCS_REPO_URL`; branch: `--repo-branch`
/ `$DOCS_REPO_BRANCH`, default `main`). Without one no page links to a remote repository: each notebook page links
a copy of its notebook inside the site, `show_doc`'s "source" links are left out, linked Markdown files are rendered
as pages of their own, and links to folders or very large files keep their text but lose the link. The URL in
pyproject.toml's [project.urls] is not used: a site must never link a repository that may not exist.

1. Pages are discovered on every build, never listed by hand: README.md is the home page, each nbs/*.ipynb
   (not `_*`, not index) an API page, each experiments/**/*.ipynb an experiment page, experiments/*.md
   (REPORT.md first) the report pages. Only files git tracks or would track are used (.gitignore respected).
2. Each notebook goes through nbdev's own doc processors (`nbdev.processors.FilterDefaults`): `#| hide` cells
   dropped, exported source hidden, a `show_doc` added after every exported function/class. Library notebooks
   then run in a fresh IPython shell each (in parallel worker processes) — but only what the API docs need:
   exported cells, top-level import statements and `show_doc` calls; never tests, demos, or cells flagged
   with `tst_flags` (`#| slow`, `#| notest`). Experiment notebooks are not run: their stored outputs show.
3. Pages are written as Markdown: `show_doc` output inline (boxed), HTML outputs (tables) raw, images as files,
   relative links and images remapped to the site (linked repo files are copied, linked Markdown files become
   pages, folders point to the repository if one is configured), backticked API names linked to their
   `show_doc` entry. The navigation: home, report, API (a subpackage's pages as one section), experiments.
4. MkDocs + Material render the HTML (theme assets bundled, `font: false`, `offline` plugin for search from
   file://); docs/hooks.py turns math into MathML and puts every table in a sideways-scrolling box.
   Exit status 1 if a notebook failed or MkDocs failed.
"""
from __future__ import annotations

import argparse, ast, base64, json, multiprocessing as mp, os, re, shutil, subprocess, sys, tempfile, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import unquote

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# nothing a docs build runs may reach the network
OFFLINE_ENV = {'WANDB_MODE': 'disabled', 'WANDB_SILENT': 'true', 'HF_HUB_OFFLINE': '1', 'HF_DATASETS_OFFLINE': '1',
               'TRANSFORMERS_OFFLINE': '1', 'HF_HUB_DISABLE_TELEMETRY': '1', 'MPLBACKEND': 'Agg', 'NO_MKDOCS_2_WARNING': '1'}
MAX_ASSET_BYTES = 20 * 2**20  # linked repo files larger than this are not copied (linked on the repository, if any)
_re_ansi = re.compile(r'\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])')


# ----------------------------------------------------------------------------------------------- discovery
def repo_files(root: Path) -> list[str]:
    "Files (relative posix paths) git tracks or would track in `root`; a filtered walk when git is unavailable."
    try:
        out = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '-z'], cwd=root,
                             capture_output=True, check=True).stdout.decode()
        files = [f for f in out.split('\0') if f]
    except (OSError, subprocess.CalledProcessError):
        skip = {'.git', '.venv', '_proc', '_docs', 'site', 'wandb', '.ipynb_checkpoints', '__pycache__', 'checkpoints', 'runs'}
        files = [p.relative_to(root).as_posix() for p in root.rglob('*') if not skip & set(p.relative_to(root).parts)]
    return sorted(f for f in set(files) if (root / f).is_file())


def discover(root: Path) -> dict:
    "The pages of the site: {'home', 'report': [...], 'api': [...], 'experiments': [...]} of repo-relative sources."
    files = repo_files(root)
    api = [f for f in files if re.fullmatch(r'nbs/[^/_.][^/]*\.ipynb', f) and f != 'nbs/index.ipynb']
    exps = [f for f in files if f.startswith('experiments/') and f.endswith('.ipynb') and '.ipynb_checkpoints' not in f]
    mds = [f for f in files if re.fullmatch(r'experiments/[^/]+\.md', f)]
    report = sorted(mds, key=lambda f: (Path(f).stem.lower() != 'report', f))
    home = 'README.md' if 'README.md' in files else ('nbs/index.ipynb' if 'nbs/index.ipynb' in files else None)
    return {'home': home, 'report': report, 'api': api, 'experiments': exps, 'files': set(files)}


def dest_of(src: str) -> str:
    "Path of the staged Markdown page for repo file `src` (the site mirrors the repository's layout)."
    if src in ('README.md', 'nbs/index.ipynb'): return 'index.md'
    return str(Path(src).with_suffix('.md').as_posix())


# ------------------------------------------------------------------------------ notebook processing (worker)
def _title_desc(cells) -> tuple[str | None, str | None]:
    "Title and (whole, multi-line) description from a notebook's `# Title` / `> description` first markdown cell."
    for c in cells:
        if c.get('cell_type') != 'markdown': continue
        src = ''.join(c.get('source', ''))
        m = re.match(r'\s*#\s+(.+?)\s*$', src.strip().splitlines()[0] if src.strip() else '')
        if not m: return None, None
        quote = [l[1:].strip() for l in src.strip().splitlines()[1:] if l.startswith('>')]
        return m.group(1), ' '.join(quote) or None
    return None, None


def _doc_code(cell, skip_flags: set) -> str | None:
    "The part of a code `cell` the API docs need to run (None: nothing)."
    if cell.cell_type != 'code' or not cell.get('source'): return None
    d = cell.directives_
    if str(d.get('eval', '')).lower() == 'false' or skip_flags & set(d): return None
    if set(d) & {'export', 'exports', 'exporti', 'exec_doc'}: return cell.source
    try: trees = cell.parsed_()
    except Exception: return None
    if not trees: return None
    keep = [t for t in trees if isinstance(t, (ast.Import, ast.ImportFrom))
            or (isinstance(t, ast.Expr) and isinstance(t.value, ast.Call) and getattr(t.value.func, 'id', '') == 'show_doc')]
    if not keep: return None
    if len(keep) == len(trees): return cell.source
    return '\n'.join(ast.unparse(t) for t in keep)


def process_notebook(src: str, execute: bool, root: str = str(ROOT)) -> dict:
    "Run nbdev's doc processors on notebook `src` (relative to `root`), executing what `show_doc` needs. JSON-able result."
    if root not in sys.path: sys.path.insert(0, root)
    os.environ.update(OFFLINE_ENV, PYTHONPATH=os.pathsep.join([root, os.environ.get('PYTHONPATH', '')]))
    path = Path(root) / src
    os.chdir(path.parent)  # like nbdev-test; nbdev finds pyproject.toml upwards from here
    from fastcore.nbio import read_nb
    from nbdev.config import get_config
    from nbdev.process import NBProcessor, Processor
    from fastcore.nbio import mk_cell
    from nbdev.processors import FilterDefaults, exec_show_docs, _default_exp, add_show_docs
    from execnb.shell import _out_exc
    nb = read_nb(path)
    nb.path_ = str(path)
    title, desc = _title_desc(nb.cells)
    module = _default_exp(nb)
    errors = []
    skip_flags = set(str(get_config().get('tst_flags', '')).split()) | {'notest'}

    class exec_docs(exec_show_docs):
        "nbdev's `exec_show_docs`, restricted to exported cells, imports and `show_doc` calls; errors recorded."
        def __call__(self, cell):
            if not self.nb.has_docs_ or not hasattr(self, 'k'): return
            code = _doc_code(cell, skip_flags)
            if code is None: return
            shown = _is_showdoc(cell)
            stored = cell.get('outputs', [])
            if code == cell.source: self.k.cell(cell)
            else: self.k.run(code)
            if not shown: cell.outputs = stored  # only show_doc output is new; no import warnings on the page
            if self.k.exc is not None:
                e = self.k.exc
                errors.append(f"{src}: cell {cell.idx_}: {type(e).__name__}: {e}\n{cell.source}")
                if shown: cell.outputs = [_out_exc(e)]
                self.k.exc = None

        def end(self):
            super().end()
            if hasattr(self, 'k'): self.k.close()  # workers process several notebooks: free each shell

    def _is_showdoc(cell): return bool(re.search(r'^show_doc', cell.source or '', re.M))

    class add_show_docs_in_order(add_show_docs):
        "nbdev's `add_show_docs`, with a cell's entries in source order (nbdev inserts each right after the cell: reversed)."
        def begin(self):
            super().begin()
            cells, i = self.nb.cells, 0
            while i < len(cells):
                j = i
                while j < len(cells) and getattr(cells[j], 'has_sd', False): j += 1
                if j > i + 1: cells[i:j] = cells[i:j][::-1]
                i = max(j, i + 1)

    class show_constants(Processor):
        "Show the public constants an exported cell defines (nbdev hides exported code, so they would be invisible)."
        def begin(self):
            cells = self.nb.cells
            for cell in reversed([c for c in cells if c.cell_type == 'code' and c.source and 'export' in c.directives_
                                  and 'hide' not in c.directives_]):
                try: trees = ast.parse(cell.source).body
                except SyntaxError: continue
                segs = [ast.get_source_segment(cell.source, t) for t in trees if isinstance(t, (ast.Assign, ast.AnnAssign))
                        and any(not n.id.startswith('_') for tg in (t.targets if isinstance(t, ast.Assign) else [t.target])
                                for n in ast.walk(tg) if isinstance(n, ast.Name))]
                if not segs: continue
                new = mk_cell('#| nbdocs: constants\n' + '\n'.join(segs))
                new.directives_ = {}
                cells.insert(cells.index(cell) + 1, new)

    # quarto-only markup and links to the online site are left out; the rest is nbdev's own pipeline
    skip = {'insert_warning', 'add_links', 'add_fold'}
    procs = []
    for p in FilterDefaults().procs():
        if p.__name__ in skip: continue
        if p.__name__ == 'add_show_docs': procs += [add_show_docs_in_order, show_constants]; continue
        if p is exec_show_docs:
            if execute: procs.append(exec_docs)
            continue
        procs.append(p)
    t0 = time.time()
    try: NBProcessor(nb=nb, procs=procs, rm_directives='quarto').process()
    except Exception as e: errors.append(f"{src}: {type(e).__name__}: {e}")
    fm = dict(getattr(nb, 'frontmatter_', {}) or {})
    cells = [{'cell_type': c.cell_type, 'source': c.get('source') or '', 'outputs': c.get('outputs', []),
              'attachments': c.get('attachments', {})} for c in nb.cells]
    res = {'src': src, 'title': title or fm.get('title'), 'description': desc or fm.get('description'),
           'module': module, 'cells': cells, 'errors': errors, 'seconds': round(time.time() - t0, 1)}
    return json.loads(json.dumps(res, default=str))


# ------------------------------------------------------------------------------------------ Markdown helpers
_fence_re = re.compile(r'^ {0,3}(`{3,}|~{3,})')
_list_re = re.compile(r'^( *)([-*+]|\d{1,9}[.)])[ \t]+\S')


def _segments(md: str):
    "Split Markdown into (is_code, text) runs: fenced code blocks vs everything else."
    out, buf, fence = [], [], None
    for line in md.splitlines(keepends=True):
        m = _fence_re.match(line)
        if fence is None and m:
            if buf: out.append((False, ''.join(buf)))
            buf, fence = [line], m.group(1)
        elif fence is not None:
            buf.append(line)
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip()[len(m.group(1)):].strip():
                out.append((True, ''.join(buf))); buf, fence = [], None
        else: buf.append(line)
    if buf: out.append((fence is not None, ''.join(buf)))
    return out


def map_text(md: str, f) -> str:
    "Apply `f` to the parts of `md` outside fenced code blocks."
    return ''.join(s if code else f(s) for code, s in _segments(md))


def _normalize_block(text: str) -> str:
    """CommonMark/GFM habits that Python-Markdown reads differently: a list or table right after a paragraph line
    (needs a blank line) and lists nested with 2 or 3 spaces (need 4)."""
    lines, out = text.split('\n'), []
    i = 0
    while i < len(lines):
        line = lines[i]
        prev = out[-1] if out else ''
        if _list_re.match(line) and not _list_re.match(line).group(1):
            # a top-level list: collect it, fix nesting, separate it from a preceding paragraph
            j, block = i, []
            while j < len(lines):
                l = lines[j]
                if block and not l.strip():
                    nxt = lines[j + 1] if j + 1 < len(lines) else ''
                    if not nxt.strip() or not (nxt.startswith((' ', '\t')) or _list_re.match(nxt)): break
                elif block and not l.startswith((' ', '\t')) and not _list_re.match(l) and not block[-1].strip(): break
                block.append(l); j += 1
            indents = [len(m.group(1)) for m in map(_list_re.match, block) if m and m.group(1)]
            if any(n % 4 for n in indents):
                block = [re.sub(r'^( +)', lambda m: ' ' * (2 * len(m.group(1))), l) if l.strip() else l for l in block]
            if prev.strip() and not _list_re.match(prev): out.append('')
            out.extend(block); i = j
            continue
        if line.lstrip().startswith('|') and prev.strip() and not prev.lstrip().startswith('|'): out.append('')
        out.append(line); i += 1
    return '\n'.join(out)


def normalize_md(md: str) -> str: return map_text(md, _normalize_block)


def fence(text: str, lang: str = '') -> str:
    "`text` as a fenced code block whose fence is longer than any backtick run inside."
    n = max([3] + [len(r) + 1 for r in re.findall(r'`{3,}', text)])
    return f"{'`' * n}{lang}\n{text.rstrip()}\n{'`' * n}\n"


_link_re = re.compile(r'(!?\[(?:[^\[\]]|\[[^\]]*\])*\]\()[ \t]*<?([^)\s>]+)>?((?:[ \t]+"[^"]*")?[ \t]*\))')
# a reference definition: `[label]: url` alone on its line or followed by a title (not `[a, b]: with a margin ...`)
_ref_re = re.compile(r'^( {0,3}\[[^\]]+\]:[ \t]*)<?(\S+?)>?(?=[ \t]*(?:$|["\'(]))', re.M)
_html_re = re.compile(r'''(<(?:img|a|source|video)\b[^>]*?\b(?:src|href)=)(["'])(.*?)\2''', re.I)
_source_re = re.compile(r'[ \t]*\[source\]\(<?([^)\s>]+)>?\)(\{[^}\n]*\})?[ \t]*\n?')
_link_or_code = re.compile(r'(?P<link>\[[^\]]*\]\([^)]*\))|(?P<ticks>`+)(?P<code>.+?)(?P=ticks)', re.S)


class Site:
    "Staging of one build: page map, assets to copy, API index and the pieces of the Markdown conversion."
    def __init__(self, root: Path, stage: Path, pages: dict, cfg: dict):
        self.root, self.stage, self.cfg = root, stage, cfg
        self.page_of = {}  # repo source -> staged md path
        for key in ('report', 'api', 'experiments'):
            for src in pages[key]: self.page_of[src] = dest_of(src)
        if pages['home']: self.page_of[pages['home']] = 'index.md'
        self.files, self.assets, self.missing = pages['files'], set(), []
        self.extra_pages = []  # linked Markdown files that are not pages of the nav: rendered as pages too
        self.api = {}  # documented name -> (staged page, anchor)

    # ---- links
    def _url(self, url: str, src: str, dest: str) -> str:
        if re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*:', url) or url.startswith(('#', '/')): return url
        path, hash_, frag = url.partition('#')
        if not path: return url
        target = os.path.normpath(os.path.join(os.path.dirname(src), unquote(path))).replace(os.sep, '/')
        if target.startswith('..'): return url
        if target in self.page_of: new = self.page_of[target]
        elif target.endswith('.md') and target in self.files:   # a linked Markdown file becomes a page (not in the nav)
            new = self.page_of[target] = dest_of(target)
            self.extra_pages.append(target)
        elif (self.root / target).is_file() and target in self.files and (self.root / target).stat().st_size <= MAX_ASSET_BYTES:
            self.assets.add(target); new = target
        elif (self.root / target).exists():  # folder or big file: on the repository if there is one, else no link
            return self.repo_link(target, 'tree' if (self.root / target).is_dir() else 'blob', hash_ + frag)
        else:
            self.missing.append(f'{src}: {url}'); return url
        return os.path.relpath(new, os.path.dirname(dest) or '.').replace(os.sep, '/') + hash_ + frag

    def repo_link(self, path: str, kind: str = 'blob', frag: str = '') -> str | None:
        "URL of `path` on the configured repository (None when no repository is configured)."
        if not self.cfg.get('repo_url'): return None
        return f"{self.cfg['repo_url']}/{kind}/{self.cfg['branch']}/{path}{frag}"

    def rewrite_links(self, md: str, src: str, dest: str) -> str:
        "Links and images of Markdown `md` (from repo file `src`) remapped to the site; links with no target lose the link."
        def link(m):
            url = self._url(m.group(2), src, dest)
            if url is not None: return m.group(1) + url + m.group(3)
            return m.group(1)[1:-2] if m.group(1).startswith('[') else m.group(1)[2:-2]  # the text (or alt text) alone
        def f(text):
            text = _link_re.sub(link, text)
            text = _ref_re.sub(lambda m: m.group(1) + (self._url(m.group(2), src, dest) or '#'), text)
            return _html_re.sub(lambda m: m.group(1) + m.group(2) + (self._url(m.group(3), src, dest) or '#') + m.group(2), text)
        return map_text(md, f)

    def source_links(self, md: str) -> str:
        "`show_doc`'s `[source](...)` links: onto the configured repository, or left out when there is none."
        def f(m):
            path = re.sub(r'^.*?/blob/[^/]+/', '', m.group(1))
            url = self.repo_link(path) if re.match(r'^https?://', m.group(1)) else None
            return f'[source]({url}){m.group(2) or ""}' if url else ''
        return _source_re.sub(f, md)

    # ---- API cross references
    def linkify(self, md: str, dest: str) -> str:
        "Link backticked names of documented objects (`check_tokens`, `LSHAttention.forward`) to their entry."
        def span(m):
            if m.group('link') or m.group('ticks') != '`': return m.group(0)  # already a link, or not a plain span
            name = m.group('code').strip().removesuffix('()')
            if name not in self.api: return m.group(0)
            page, anchor = self.api[name]
            rel = os.path.relpath(page, os.path.dirname(dest) or '.').replace(os.sep, '/')
            return f'[{m.group(0)}]({rel}#{anchor})'
        return map_text(md, lambda text: _link_or_code.sub(span, text))

    def index_api(self, res: dict):
        "Record the `show_doc` headings of a processed notebook as link targets."
        for c in res['cells']:
            if c['cell_type'] != 'code' or not re.search(r'^show_doc', c['source'], re.M): continue
            for o in c['outputs']:
                md = _join(o.get('data', {}).get('text/markdown', ''))
                for h in re.findall(r'^#{1,6}\s+(\S[^\n{]*?)\s*$', md, re.M):
                    self.api.setdefault(h.strip('`* '), (dest_of(res['src']), _anchor(h.strip('`* '))))

    # ---- notebook -> Markdown
    def notebook_md(self, res: dict, kind: str) -> str:
        src, dest = res['src'], dest_of(res['src'])
        files_dir = Path(dest).stem + '_files'
        title = res['title'] or Path(src).stem
        parts = [f"# {title}\n"]
        if res['description']:
            parts.append(f'<div class="nb-description" markdown>\n\n{self.linkify(res["description"], dest)}\n\n</div>\n')
        meta = []
        if kind == 'api' and res['module']:
            meta.append(f"`from {self.cfg['lib_name']}.{res['module']} import *`")
        if self.repo_link(src): meta.append(f"source: [{src}]({self.repo_link(src)})")
        else:  # a copy of the notebook inside the site
            self.assets.add(src)
            meta.append(f"notebook: [{Path(src).name}]({Path(src).name})")
        parts.append(f'<div class="nb-meta" markdown>\n\n{" · ".join(meta)}\n\n</div>\n')
        for err in res['errors']:
            parts.append('!!! failure "Docs build error"\n\n' + _indent(fence(err, 'text'), 4))
        n_img = 0
        for ci, c in enumerate(res['cells']):
            if c['cell_type'] == 'markdown':
                md = c['source']
                for name, data in (c.get('attachments') or {}).items():  # pasted images
                    for mime, b64 in data.items():
                        fn = f'{files_dir}/att_{ci}_{re.sub(r"[^A-Za-z0-9_.-]", "_", name)}'
                        self._write(Path(dest).parent / fn, base64.b64decode(_join(b64)))
                        md = md.replace(f'attachment:{name}', fn)
                        break
                md = self.rewrite_links(normalize_md(md), src, dest)
                parts.append(self.linkify(md, dest) + '\n')
            elif c['cell_type'] == 'code':
                dirs, code = _split_directives(c['source'])
                is_doc = bool(re.search(r'^show_doc', code, re.M))
                if str(dirs.get('include', '')).lower() == 'false': continue
                if dirs.get('nbdocs') == 'constants':
                    parts.append(_div('nb-const', '<span class="nb-label">exported</span>\n\n' + fence(code, 'python'), md=True))
                    continue
                if str(dirs.get('echo', 'true')).lower() != 'false' and code.strip():
                    parts.append(fence(code, 'python'))
                if str(dirs.get('output', 'true')).lower() == 'false': continue
                for o in c['outputs']:
                    md, n_img = self.output_md(o, dest, files_dir, ci, n_img, is_doc)
                    if md: parts.append(md)
        return '\n'.join(parts)

    def output_md(self, o: dict, dest: str, files_dir: str, ci: int, n_img: int, is_doc: bool):
        t = o.get('output_type')
        if t == 'stream':
            cls = 'nb-output nb-stderr' if o.get('name') == 'stderr' else 'nb-output'
            text = _re_ansi.sub('', _join(o.get('text', '')))
            return (_div(cls, fence(text, 'text')) if text.strip() else ''), n_img
        if t == 'error':
            text = _re_ansi.sub('', '\n'.join(o.get('traceback') or [f"{o.get('ename')}: {o.get('evalue')}"]))
            return _div('nb-output nb-error', fence(text, 'text')), n_img
        data = o.get('data', {})
        if 'text/markdown' in data:
            md = _join(data['text/markdown'])
            if is_doc:
                md = re.sub(r'^\s*---\s*\n', '', md)  # nbdev's rule above each entry: the box replaces it
                md = self.source_links(md)
                md = re.sub(r'^(#{1,6})\s+(\S[^\n{]*?)\s*$', lambda m: f'{m.group(1)} {m.group(2)} {{ #{_anchor(m.group(2).strip("`* "))} }}', md, count=1, flags=re.M)
                return _div('nb-doc', self.linkify(normalize_md(md), dest), md=True), n_img
            return _div('nb-output', self.linkify(normalize_md(md), dest), md=True), n_img
        for mime, ext in (('image/svg+xml', 'svg'), ('image/png', 'png'), ('image/jpeg', 'jpg'), ('image/gif', 'gif')):
            if mime not in data: continue
            n_img += 1
            fn = f'{files_dir}/cell{ci}_out{n_img}.{ext}'
            raw = _join(data[mime])
            self._write(self.stage / Path(dest).parent / fn, raw.encode() if ext == 'svg' else base64.b64decode(raw))
            width = (o.get('metadata', {}).get(mime) or {}).get('width') if isinstance(o.get('metadata', {}).get(mime), dict) else None
            attrs = f'{{ width="{width}" }}' if width else ''
            return _div('nb-output nb-image', f'![output {n_img}]({fn}){attrs}\n', md=True), n_img
        if 'text/html' in data:
            return f'<div class="nb-output nb-html">\n{_join(data["text/html"]).strip()}\n</div>\n', n_img
        if 'text/latex' in data:
            return _div('nb-output', _join(data['text/latex']) + '\n', md=True), n_img
        if 'text/plain' in data:
            return _div('nb-output', fence(_join(data['text/plain']), 'text')), n_img
        return '', n_img

    def _write(self, path: Path, data: bytes):
        path = path if path.is_absolute() else self.stage / path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _join(x) -> str: return ''.join(x) if isinstance(x, list) else (x or '')
def _indent(s: str, n: int) -> str: return ''.join(' ' * n + l if l.strip() else l for l in s.splitlines(True))
def _anchor(name: str) -> str: return re.sub(r'[^\w.-]', '-', name).strip('-') or 'api'


def _div(cls: str, body: str, md: bool = False) -> str:
    return f'<div class="{cls}"{" markdown" if md else ""}>\n\n{body.rstrip()}\n\n</div>\n'


def _split_directives(src: str) -> tuple[dict, str]:
    "Leading `#| key: value` lines of a processed code cell (quarto options nbdev leaves) and the rest."
    dirs, lines = {}, src.splitlines()
    while lines and re.match(r'^\s*#\|', lines[0]):
        k, _, v = lines.pop(0).split('|', 1)[1].partition(':')
        dirs[k.strip()] = v.strip()
    return dirs, '\n'.join(lines).strip('\n')


# ----------------------------------------------------------------------------------------------------- build
def nbdev_cfg(root: Path, repo_url: str | None = None, branch: str | None = None) -> dict:
    """The few nbdev settings the site uses (from pyproject.toml), read without importing nbdev in this process.
    `repo_url`: the repository source links point to (default `$DOCS_REPO_URL`; empty or unset: no repository links)."""
    import tomllib
    try: d = tomllib.loads((root / 'pyproject.toml').read_text())
    except (OSError, ValueError): d = {}
    nb, proj = d.get('tool', {}).get('nbdev', {}), d.get('project', {})
    return {'title': nb.get('title') or proj.get('name') or root.name, 'lib_name': nb.get('lib_name') or proj.get('name', 'lib'),
            'lib_path': nb.get('lib_path') or proj.get('name', 'lib'),
            'description': nb.get('description') or proj.get('description', ''),
            'branch': branch or os.environ.get('DOCS_REPO_BRANCH') or nb.get('branch') or 'main',
            'repo_url': (repo_url if repo_url is not None else os.environ.get('DOCS_REPO_URL', '')).strip().rstrip('/') or None}


# API pages of one subpackage (`#| default_exp data.wmt`) form a section of the navigation, titled here (default: the
# subpackage's name); pages of top-level modules are listed directly, all in notebook order
API_SECTIONS = {'data': 'Data', 'train': 'Training', 'bench': 'Benchmarks', 'exp': 'Experiment runner'}


def api_nav(srcs: list[str], modules: dict, titles: dict) -> list:
    "Navigation entries of the API pages `srcs` (notebook order): top-level modules as pages, subpackages as sections."
    nav, sections = [], {}
    for src in srcs:
        mod, item = modules.get(src) or '', {titles[src]: dest_of(src)}
        pkg = mod.split('.')[0] if '.' in mod else None
        if pkg is None: nav.append(item); continue
        if pkg not in sections:
            sections[pkg] = []
            nav.append({API_SECTIONS.get(pkg, pkg.capitalize()): sections[pkg]})
        sections[pkg].append(item)
    return nav


def _title_of_md(md: str, fallback: str) -> str:
    m = re.search(r'^#\s+(.+?)\s*#*\s*$', md, re.M)
    return re.sub(r'[`*_]', '', m.group(1)) if m else fallback


def build(site_dir: Path, jobs: int, execute: bool, strict: bool, keep_src: Path | None, root: Path = ROOT,
          repo_url: str | None = None, branch: str | None = None) -> int:
    t0 = t_start = time.time()  # sources changed after this are not in the site
    os.environ.update(OFFLINE_ENV)
    cfg, pages = nbdev_cfg(root, repo_url, branch), discover(root)
    stage = Path(tempfile.mkdtemp(prefix='reformer_docs_')) if keep_src is None else keep_src.resolve()
    if keep_src is not None and stage.exists(): shutil.rmtree(stage)
    docs_dir = stage / 'docs'
    docs_dir.mkdir(parents=True)
    site = Site(root, docs_dir, pages, cfg)
    nbs = pages['api'] + pages['experiments'] + ([pages['home']] if (pages['home'] or '').endswith('.ipynb') else [])
    # 1-2. nbdev processing in worker processes (torch etc. imported once per worker; each notebook gets a fresh shell)
    results, errors = {}, []
    if nbs:
        ctx = mp.get_context('spawn')
        # workers must find `process_notebook` in an importable module: IPython takes over `__main__` in them
        if str(DOCS) not in sys.path: sys.path.insert(0, str(DOCS))
        import build as this_module
        with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(nbs))), mp_context=ctx) as ex:
            futs = {src: ex.submit(this_module.process_notebook, src, execute and not src.startswith('experiments/'), str(root)) for src in nbs}
            for src, fut in futs.items():
                try: results[src] = fut.result()
                except Exception as e:  # a crashed worker: keep building the other pages
                    results[src] = {'src': src, 'title': None, 'description': None, 'module': None, 'cells': [],
                                    'errors': [f'{src}: worker failed: {type(e).__name__}: {e}'], 'seconds': 0}
                errors += results[src]['errors']
                print(f"  {src}: {results[src]['seconds']}s{' — ERRORS' if results[src]['errors'] else ''}", flush=True)
    for res in results.values(): site.index_api(res)
    # 3. Markdown pages
    titles = {}
    for src, res in results.items():
        kind = 'api' if src in pages['api'] else 'experiment'
        md = site.notebook_md(res, kind)
        site._write(Path(dest_of(src)), md.encode())
        titles[src] = res['title'] or Path(src).stem
    for src in pages['report'] + ([pages['home']] if pages['home'] == 'README.md' else []):
        md = (root / src).read_text()
        md = site.linkify(site.rewrite_links(normalize_md(md), src, dest_of(src)), dest_of(src))
        site._write(Path(dest_of(src)), md.encode())
        titles[src] = _title_of_md(md, Path(src).stem)
    done = set()
    while site.extra_pages:   # linked Markdown files (they may link more)
        src = site.extra_pages.pop(0)
        if src in done: continue
        done.add(src)
        md = (root / src).read_text()
        site._write(Path(dest_of(src)), site.linkify(site.rewrite_links(normalize_md(md), src, dest_of(src)), dest_of(src)).encode())
    if not pages['home']:
        lines = [f"# {cfg['title']}\n", cfg['description'] + '\n']
        for key, head in (('report', 'Reproduction report'), ('api', 'API'), ('experiments', 'Experiments')):
            if pages[key]: lines += [f'\n## {head}\n'] + [f'- [{titles[s]}]({dest_of(s)})' for s in pages[key]]
        site._write(Path('index.md'), '\n'.join(lines).encode() + b'\n')
    for a in sorted(site.assets):
        (docs_dir / a).parent.mkdir(parents=True, exist_ok=True)
        if not (docs_dir / a).exists(): shutil.copy2(root / a, docs_dir / a)
    shutil.copytree(DOCS / 'assets', docs_dir / 'assets', dirs_exist_ok=True)
    for m in site.missing: print(f'  warning: link to a missing file: {m}')
    # 4. MkDocs
    import yaml
    mk = yaml.safe_load((DOCS / 'mkdocs.yml').read_text())
    nav = [{'Home': 'index.md'}]
    if pages['report']:
        rep = [{titles[s]: dest_of(s)} for s in pages['report']]
        nav.append({'Reproduction report': rep[0][titles[pages['report'][0]]]} if len(rep) == 1 else {'Reproduction report': rep})
    if pages['api']: nav.append({'API': api_nav(pages['api'], {s: results[s].get('module') for s in pages['api']}, titles)})
    if pages['experiments']: nav.append({'Experiments': [{titles[s]: dest_of(s)} for s in pages['experiments']]})
    mk.update(docs_dir='docs', site_dir=str(site_dir.resolve()), nav=nav, hooks=[str(DOCS / 'hooks.py')],
              site_name=cfg['title'], site_description=cfg['description'] or mk.get('site_description'))
    (stage / 'mkdocs.yml').write_text(yaml.safe_dump(mk, sort_keys=False, allow_unicode=True))
    cmd = [sys.executable, '-m', 'mkdocs', 'build', '--clean', '-f', str(stage / 'mkdocs.yml')] + (['--strict'] if strict else [])
    rc = subprocess.run(cmd, cwd=stage).returncode
    if rc == 0:
        info = {'built_at': t_start, 'seconds': round(time.time() - t0, 1), 'executed': execute, 'errors': errors,
                'repo_url': cfg['repo_url'],
                'pages': {s: str(Path(dest_of(s)).with_suffix('.html').as_posix()) for s in site.page_of}}
        (site_dir / '_build_info.json').write_text(json.dumps(info, indent=1))
    if keep_src is None: shutil.rmtree(stage, ignore_errors=True)
    for e in errors: print(f'ERROR {e}', file=sys.stderr)
    print(f"docs: {len(site.page_of)} pages -> {site_dir / 'index.html'} in {time.time() - t0:.0f}s"
          + (f' ({len(errors)} notebook errors)' if errors else '') + ('' if rc == 0 else f' (mkdocs exit {rc})'))
    return 1 if rc or errors else 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--site', type=Path, default=DOCS / 'site', help='output folder (default docs/site, git-ignored)')
    p.add_argument('--jobs', type=int, default=os.cpu_count() or 1, help='notebooks processed in parallel')
    p.add_argument('--no-exec', dest='execute', action='store_false', help="don't run show_doc (no API signatures)")
    p.add_argument('--strict', action='store_true', help='MkDocs warnings (e.g. broken links) fail the build')
    p.add_argument('--keep-src', type=Path, default=None, help='keep the staged Markdown + mkdocs.yml in this folder')
    p.add_argument('--root', type=Path, default=ROOT, help='project root (default: the one holding this script)')
    p.add_argument('--repo-url', default=None, help='repository that source links point to, e.g. https://github.com/OWNER/NAME '
                   '(default $DOCS_REPO_URL; unset: no links to a remote repository)')
    p.add_argument('--repo-branch', default=None, help='branch of --repo-url (default $DOCS_REPO_BRANCH, else main)')
    a = p.parse_args(argv)
    return build(a.site, a.jobs, a.execute, a.strict, a.keep_src, a.root.resolve(), a.repo_url, a.repo_branch)


if __name__ == '__main__': sys.exit(main())
