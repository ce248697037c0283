"""The offline docs site built by docs/build.py: every page exists and carries its key content.

The site is built once per session into a temporary folder (about a minute on 2 cores), unless
DOCS_SITE_DIR names a build that is newer than every source and finished without errors:

    python docs/build.py && DOCS_SITE_DIR=docs/site pytest tests/test_docs.py

Expected pages are discovered here independently of the build script: one per nbs/*.ipynb (not `_*`, not
index), one per experiments/**/*.ipynb, one per experiments/*.md (REPORT.md among them), and the home page.
"""
from __future__ import annotations

import html, importlib, importlib.util, inspect, json, os, re, shutil, subprocess, sys, tempfile, tomllib
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / 'docs' / 'build.py'

_missing = [m for m in ('mkdocs', 'material', 'latex2mathml') if importlib.util.find_spec(m) is None]
if _missing:  # a developer without the docs extra skips; CI must have it
    if os.environ.get('CI'): raise ImportError(f"docs tests need {_missing}: pip install -e '.[docs]'")
    pytest.skip(f"docs build tools not installed ({', '.join(_missing)}): pip install -e '.[docs]'", allow_module_level=True)


# ------------------------------------------------------------------------------------------------ discovery
def repo_files() -> list[str]:
    try:
        out = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '-z'], cwd=ROOT, capture_output=True, check=True)
        files = [f for f in out.stdout.decode().split('\0') if f]
    except (OSError, subprocess.CalledProcessError):
        files = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob('*') if '.venv' not in p.parts and '.git' not in p.parts]
    return sorted(f for f in files if (ROOT / f).is_file())


FILES = repo_files()
LIB_NBS = [f for f in FILES if re.fullmatch(r'nbs/[^/_.][^/]*\.ipynb', f) and f != 'nbs/index.ipynb']
EXP_NBS = [f for f in FILES if f.startswith('experiments/') and f.endswith('.ipynb') and '.ipynb_checkpoints' not in f]
EXP_MDS = [f for f in FILES if re.fullmatch(r'experiments/[^/]+\.md', f)]
REPORT = next((f for f in EXP_MDS if Path(f).name.lower() == 'report.md'), None)


def page_of(src: str) -> str: return 'index.html' if src == 'README.md' else str(Path(src).with_suffix('.html'))


def _module_of(nb: str) -> str | None:
    "The module a notebook exports to (its `#| default_exp`), None if it exports nothing."
    src = '\n'.join(''.join(c['source']) for c in json.loads((ROOT / nb).read_text())['cells'] if c['cell_type'] == 'code')
    m = re.search(r'^\s*#\|\s*default_exp\s+(\S+)', src, re.M)
    return m.group(1) if m else None


def nb_of(*modules: str) -> str:
    """The library notebook exporting the first of `modules` that one exports: pages are found by what they document,
    not by file name (notebooks get renumbered; list the new module name first, the old one after it)."""
    by_module = {_module_of(nb): nb for nb in LIB_NBS}
    for m in modules:
        if m in by_module: return by_module[m]
    pytest.fail(f'no notebook in nbs/ has `#| default_exp` {" or ".join(modules)}')


def nb_defining(name: str) -> str:
    "The library notebook whose exported code defines `name` (a function or class)."
    for nb in LIB_NBS:
        for c in json.loads((ROOT / nb).read_text())['cells']:
            src = ''.join(c['source'])
            if c['cell_type'] == 'code' and re.search(r'^#\|\s*export', src, re.M) and re.search(rf'^(def|class) {name}\b', src, re.M):
                return nb
    pytest.fail(f'no notebook in nbs/ exports {name}')


# ----------------------------------------------------------------------------------------------------- site
def _fresh(site: Path) -> bool:
    "True if `site` holds a complete, error-free build newer than every source it is made from."
    info = site / '_build_info.json'
    if not info.exists(): return False
    info = json.loads(info.read_text())
    if info.get('errors') or not info.get('executed'): return False
    if set(LIB_NBS + EXP_NBS + EXP_MDS) - set(info.get('pages', {})): return False
    srcs = [ROOT / f for f in FILES if f.startswith(('nbs/', 'experiments/', 'docs/', 'reformer_repro/')) or f == 'README.md']
    return info['built_at'] >= max(p.stat().st_mtime for p in srcs)


@pytest.fixture(scope='session')
def site(tmp_path_factory) -> Path:
    given = os.environ.get('DOCS_SITE_DIR')
    if given and _fresh(Path(given)): return Path(given).resolve()
    if given: print(f'DOCS_SITE_DIR={given} is missing, stale or had errors: building afresh')
    base = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'): base = base.parent   # the xdist workers of one run share one build
    out = base / 'docs-site'
    with open(base / 'docs-site.lock', 'w') as lock:
        try:
            import fcntl
            fcntl.flock(lock, fcntl.LOCK_EX)   # the first worker builds, the others wait for it
        except ImportError: pass
        if not (out / '_build_info.json').exists():   # written only by a build that succeeded
            r = subprocess.run([sys.executable, str(BUILD), '--site', str(out)], cwd=ROOT, capture_output=True, text=True,
                               timeout=1500)
            assert r.returncode == 0, f'docs build failed:\n{r.stdout[-6000:]}\n{r.stderr[-6000:]}'
    return out


class Page(HTMLParser):
    "Tags, ids and text of one HTML page."
    def __init__(self, path: Path):
        super().__init__(convert_charrefs=True)
        self.path, self.tags, self.ids, self.chunks, self._skip = path, [], set(), [], 0
        self.feed(path.read_text(encoding='utf-8'))
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if 'id' in a: self.ids.add(a['id'])
        if tag in ('script', 'style'): self._skip += 1
    def handle_endtag(self, tag):
        if tag in ('script', 'style') and self._skip: self._skip -= 1
    def handle_data(self, data):
        if not self._skip: self.chunks.append(data)
    @property
    def text(self) -> str: return ''.join(self.chunks)
    @property
    def article(self) -> str:
        "Text of the main content only (no navigation, no table of contents)."
        if not hasattr(self, '_article'):
            m = re.search(r'<article\b.*?</article>', self.path.read_text(encoding='utf-8'), re.S)
            self._article = html.unescape(re.sub(r'<[^>]+>', '', m.group(0))) if m else self.text
        return self._article
    def find(self, tag: str) -> list[dict]: return [a for t, a in self.tags if t == tag]


_pages: dict[Path, Page] = {}
def page(site: Path, rel: str) -> Page:
    p = site / rel
    assert p.exists(), f'missing page {rel}'
    if p not in _pages: _pages[p] = Page(p)
    return _pages[p]


def html_pages(site: Path) -> list[Path]: return sorted(p for p in site.rglob('*.html') if p.name != '404.html')


# ---------------------------------------------------------------------------------------------------- tests
def _md_tables(md: str) -> int: return len(re.findall(r'^\s*\|?\s*:?-{3,}:?\s*\|', md, re.M))


def test_home(site):
    "The README is the home page: its headings, tables, commands, and links into the report."
    home = page(site, 'index.html')
    assert 'reformer_repro' in home.text
    if not (ROOT / 'README.md').exists(): return
    readme = (ROOT / 'README.md').read_text()
    for h in re.findall(r'^#{1,3}\s+(.+?)\s*#*\s*$', readme, re.M):  # every README heading is on the home page
        h = re.sub(r'`|\*\*|\[([^\]]*)\]\([^)]*\)', r'\1', h).strip()
        assert h in home.article, f'README heading {h!r} missing from the home page'
    assert len(home.find('table')) >= _md_tables(readme)
    for cmd in re.findall(r'^(make \w+|reformer-repro \w+|torchrun|accelerate launch)', readme, re.M):   # commands of the code blocks
        assert cmd in home.article, f'{cmd!r} missing from the home page'
    if REPORT is not None and REPORT in readme:   # the results table links into the report page, to its sections
        links = [a['href'] for a in home.find('a') if a.get('href', '').startswith(page_of(REPORT))]
        assert links and any('#' in l for l in links), links


def test_navigation_lists_every_page(site):
    nav = {unquote(a.get('href', '')).split('#')[0] for a in page(site, 'index.html').find('a')}
    for src in LIB_NBS + EXP_NBS + EXP_MDS:
        assert page_of(src) in nav, f'{src} is not in the navigation'


def _own_params(obj) -> list[str]:
    "Named parameters the object's own code declares (its `__init__` for a class), as `show_doc` lists them."
    f = obj.__dict__.get('__init__') if inspect.isclass(obj) else obj
    code = getattr(inspect.unwrap(f), '__code__', None) if f is not None else None
    if code is None: return []
    return [p for p in code.co_varnames[:code.co_argcount + code.co_kwonlyargcount] if p not in ('self', 'cls')]


@pytest.mark.parametrize('nb', LIB_NBS)
def test_api_page(site, nb):
    "Every name the notebook exports is on its page; functions and classes have a `show_doc` entry with their signature."
    pg = page(site, page_of(nb))
    mod_name = _module_of(nb)
    if mod_name is None: return
    sys.path.insert(0, str(ROOT))
    mod = importlib.import_module(f'reformer_repro.{mod_name}')
    names = getattr(mod, '__all__', [])
    for name in names:
        obj = getattr(mod, name)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and getattr(obj, '__module__', mod.__name__) != mod.__name__:
            continue   # re-exported from another module (`reversible` re-exports `layers.ChunkedFeedForward`): documented there
        assert name in pg.article, f'{name} (in reformer_repro.{mod_name}.__all__) does not appear on {page_of(nb)}'
        if not (inspect.isfunction(obj) or inspect.isclass(obj)): continue
        if obj.__name__ != name: name = obj.__name__   # an alias (`DataMissing = DataNotAvailableError`): the entry of what it names
        assert name in pg.ids, f'no show_doc entry (anchor #{name}) for {name} on {page_of(nb)}'
        assert f'{name}(' in pg.article, f'signature of {name} missing on {page_of(nb)}'
        for p in _own_params(obj): assert p in pg.article, f'parameter {p!r} of {name} missing on {page_of(nb)}'


def test_lsh_page(site):
    "The LSH page: its TeX is MathML, its tables are tables, its API entries have signatures and docstrings."
    pg = page(site, page_of(nb_of('lsh')))
    src = pg.path.read_text(encoding='utf-8')
    assert src.count('<math') >= 20 and len(pg.find('table')) >= 1
    for s in ('def lsh_attention(', 'def hash_vectors(', 'LSHSelfAttention(', 'A brute-force reference'):
        assert s in pg.article, f'{s!r} missing from the LSH page'


def test_api_entries_in_source_order(site):
    "Entries of names defined in one exported cell appear in source order (nbdev inserts them reversed)."
    names = ('lm_loss', 'masked_accuracy', 'bits_per_char', 'perplexity')   # one exported cell, in this order
    pg = page(site, page_of(nb_defining(names[0])))
    test_order = [a['id'] for t, a in pg.tags if a.get('id') in names]
    assert test_order == list(names), test_order


def test_training_page_demos(site):
    "The training-run page shows the demo of each task: every code cell of the notebook's demos section (outputs appear when the notebook is run)."
    nb = nb_of('train.run', 'training')
    pg = page(site, page_of(nb))
    cells, demos, level = json.loads((ROOT / nb).read_text())['cells'], [], None
    for c in cells:
        src = ''.join(c['source'])
        h = re.match(r'^(#+)\s+(.*)', src.strip())
        if c['cell_type'] == 'markdown' and h:
            if level is not None and len(h.group(1)) <= level: break
            if level is None and h.group(2).startswith('Demos'): level = len(h.group(1)); demos.append(h.group(2).strip())
        elif level is not None and c['cell_type'] == 'code':
            lines = [l for l in src.splitlines() if l.strip() and not l.lstrip().startswith('#')]
            if lines and not re.search(r'^#\|\s*(hide|export|exporti)\b', src, re.M): demos.append(lines[0].strip())
    assert len(demos) >= 2, f'{nb} has no "Demos" section with code'
    art = pg.article
    for s in demos: assert s in art, f'{s!r} missing from {page_of(nb)}'


def test_no_raw_markup(site):
    "Markdown and HTML in the sources were rendered, not shown as text (outside code blocks)."
    for p in html_pages(site):
        src = p.read_text(encoding='utf-8')
        m = re.search(r'<article\b.*?</article>', src, re.S)
        if not m: continue
        text = html.unescape(re.sub(r'<[^>]+>', '', re.sub(r'<(pre|code)\b.*?</\1>', '', m.group(0), flags=re.S)))
        for raw in ('|---', '| ---', '<div', '<img', '<table', '```', '](', '{ #'):
            assert raw not in text, f'raw {raw!r} on {p.relative_to(site)}: ...{text[max(0, text.find(raw) - 80):text.find(raw) + 80]}...'


def test_core_signatures(site):
    core = page(site, page_of(nb_of('core'))).article
    for sig in ('def check_tokens(', 'max_seq_len:int | None=None', 'vocab_sz', 'def causal_mask(', 'n_q:int'):
        assert sig in core, f'{sig!r} missing from the core page'
    assert 'Validate a batch of token ids' in core  # docstrings are rendered too


@pytest.mark.parametrize('nb', EXP_NBS)
def test_experiment_page(site, nb):
    "An experiment page shows the notebook's stored tables and plots."
    pg = page(site, page_of(nb))
    outs = [o for c in json.loads((ROOT / nb).read_text())['cells'] for o in c.get('outputs', [])]
    n_img = sum(any(k.startswith('image/') for k in o.get('data', {})) for o in outs)
    n_tab = sum('<table' in ''.join(o.get('data', {}).get('text/html', '')) for o in outs)
    assert len(pg.find('img')) >= n_img
    assert len(pg.find('table')) >= n_tab


@pytest.mark.skipif(REPORT is None, reason='no experiments/REPORT.md yet')
def test_report(site):
    "The report page has every table, heading and image of experiments/REPORT.md."
    md = (ROOT / REPORT).read_text()
    pg = page(site, page_of(REPORT))
    n_tables = _md_tables(md)
    assert len(pg.find('table')) >= n_tables, f'{n_tables} tables in {REPORT}, {len(pg.find("table"))} on its page'
    for h in re.findall(r'^#{1,4}\s+(.+?)\s*#*\s*$', md, re.M):
        h = re.sub(r'`|\*\*|\[([^\]]*)\]\([^)]*\)', r'\1', h).strip()
        assert h in pg.article, f'heading {h!r} of {REPORT} missing from its page'
    n_img = len(re.findall(r'!\[[^\]]*\]\(|<img\b', md))
    assert len(pg.find('img')) >= n_img
    for verdict in set(re.findall(r'\*\*(held|partly held|did not hold|not run)\*\*', md)): assert verdict in pg.article
    for anchor in re.findall(r'\]\(#([^)]+)\)', md):   # the summary's links to the sections (GitHub-style ids)
        assert anchor in pg.ids, f'#{anchor} of {REPORT} has no target on its page'


def _resolve(site: Path, page_path: Path, url: str) -> Path | None:
    "The file a relative `url` in `page_path` points to (None for external, data: and pure-anchor urls)."
    parts = urlsplit(url)
    if parts.scheme or url.startswith(('//', '#')) or not parts.path: return None
    base = site if parts.path.startswith('/') else page_path.parent
    return (base / unquote(parts.path).lstrip('/')).resolve()


def test_assets_and_links_resolve(site):
    "Every image, script, stylesheet and internal link of every page exists (anchors, on the page or another, included); nothing is fetched online."
    problems = []
    for p in html_pages(site):
        pg = page(site, str(p.relative_to(site)))
        for tag, attr in (('img', 'src'), ('script', 'src'), ('link', 'href'), ('a', 'href'), ('source', 'src')):
            for a in pg.find(tag):
                url = a.get(attr)
                if not url or url.startswith(('data:', 'mailto:')): continue
                external = bool(urlsplit(url).scheme) or url.startswith('//')
                if external:
                    loads = tag in ('img', 'script', 'source') or (tag == 'link' and a.get('rel') in ('stylesheet', 'icon', 'preload', 'modulepreload'))
                    if loads: problems.append(f'{p.relative_to(site)}: <{tag}> loads {url} from the network')
                    continue
                if tag == 'a' and url.startswith('#') and len(url) > 1:   # an anchor on the same page
                    if unquote(url[1:]) not in pg.ids: problems.append(f'{p.relative_to(site)}: link {url} to a missing anchor')
                    continue
                target = _resolve(site, p, url)
                if target is None: continue
                if not target.exists():
                    problems.append(f'{p.relative_to(site)}: <{tag} {attr}="{url}"> does not exist'); continue
                frag = urlsplit(url).fragment
                if tag == 'a' and frag and target.suffix == '.html' and target != p:
                    if unquote(frag) not in page(site, str(target.relative_to(site))).ids:
                        problems.append(f'{p.relative_to(site)}: link {url} to a missing anchor')
    assert not problems, '\n'.join(problems[:50])


def test_math_is_rendered(site):
    "TeX in the pages became MathML at build time (no MathJax/KaTeX script, no raw TeX left)."
    for p in html_pages(site):
        src = p.read_text(encoding='utf-8')
        assert 'class="arithmatex"' not in src, f'unconverted math on {p.relative_to(site)}'
        assert 'class="math-error"' not in src, f'math that failed to convert on {p.relative_to(site)}'


# ------------------------------------------------------------------------------------- repository links
def _load_build():
    spec = importlib.util.spec_from_file_location('docs_build', BUILD)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _project_urls() -> list[str]:
    "The project's own repository/site URLs: pyproject.toml's [project.urls] and the git_url nbdev's `show_doc` uses."
    try: urls = list(tomllib.loads((ROOT / 'pyproject.toml').read_text()).get('project', {}).get('urls', {}).values())
    except (OSError, ValueError): urls = []
    modidx = ROOT / 'reformer_repro' / '_modidx.py'
    if modidx.exists(): urls += re.findall(r"'(?:git_url|doc_host)':\s*'([^']+)'", modidx.read_text())
    return sorted({u.rstrip('/') for u in urls if u})


def test_no_remote_repository_links(site):
    "Built without a repository (the default), no page links to one: notebook copies and Markdown pages are inside the site."
    info = json.loads((site / '_build_info.json').read_text())
    if info.get('repo_url'): pytest.skip(f"site built with a repository: {info['repo_url']}")
    remote = _project_urls()
    assert remote, 'no project URLs found to check against'
    problems = []
    for p in html_pages(site):
        pg = page(site, str(p.relative_to(site)))
        for tag, attr in (('a', 'href'), ('link', 'href'), ('img', 'src')):
            for a in pg.find(tag):
                url = a.get(attr) or ''
                if any(url.startswith(r) for r in remote):
                    problems.append(f'{p.relative_to(site)}: <{tag} {attr}="{url}">')
        if 'md-source' in p.read_text(encoding='utf-8'): problems.append(f'{p.relative_to(site)}: a repository button')
    assert not problems, '\n'.join(problems[:30])
    for nb in LIB_NBS + EXP_NBS:   # each notebook page links the notebook's copy in the site
        links = [a.get('href', '') for a in page(site, page_of(nb)).find('a')]
        assert Path(nb).name in links, f'{page_of(nb)} does not link its notebook'
        assert (site / nb).is_file(), f'{nb} is not copied into the site'


def test_repository_links_when_configured(tmp_path):
    "With a repository configured (--repo-url / $DOCS_REPO_URL), source links point there; without one they are left out."
    b = _load_build()
    for f in ('README.md', 'docs', 'docs/build.py'): assert (ROOT / f).exists()
    pages = {'home': None, 'report': [], 'api': [], 'experiments': [], 'files': {'docs/build.py', 'README.md'}}
    nbdev_url = 'https://github.com/someone/elsewhere'
    doc = (f'### f\n\n[source]({nbdev_url}/blob/main/reformer_repro/core.py#L21)'
           '{target="_blank" style="float:right; font-size:smaller"}\n\n> f(x)\n')
    res = {'src': 'nbs/00_x.ipynb', 'title': 'X', 'description': None, 'module': 'x', 'cells': [], 'errors': []}
    repo = 'https://example.org/me/reformer_repro'
    cfg = b.nbdev_cfg(ROOT, repo_url=repo, branch='dev')
    assert cfg['repo_url'] == repo and cfg['branch'] == 'dev'
    s = b.Site(ROOT, tmp_path, pages, cfg)
    assert s.source_links(doc).count(f'[source]({repo}/blob/dev/reformer_repro/core.py#L21)') == 1
    assert f'({repo}/tree/dev/docs)' in s.rewrite_links('[the docs folder](docs)', 'README.md', 'index.md')
    assert f'[nbs/00_x.ipynb]({repo}/blob/dev/nbs/00_x.ipynb)' in s.notebook_md(res, 'api')

    env = {k: os.environ.pop(k) for k in ('DOCS_REPO_URL', 'DOCS_REPO_BRANCH') if k in os.environ}
    try: cfg = b.nbdev_cfg(ROOT)
    finally: os.environ.update(env)
    assert cfg['repo_url'] is None   # off by default, whatever pyproject.toml's [project.urls] say
    s = b.Site(ROOT, tmp_path, pages, cfg)
    assert '[source]' not in s.source_links(doc) and 'f(x)' in s.source_links(doc)
    assert s.rewrite_links('see [the docs folder](docs).', 'README.md', 'index.md') == 'see the docs folder.'
    md = s.notebook_md(res, 'api')
    assert 'notebook: [00_x.ipynb](00_x.ipynb)' in md and 'http' not in md and 'nbs/00_x.ipynb' in s.assets


# ------------------------------------------------------------------------------------------------ tables
class _Tables(HTMLParser):
    "Tables of a page and whether each is inside a `table-wrap` box."
    def __init__(self, text: str):
        super().__init__()
        self.stack, self.tables = [], []
        self.feed(text)
    def handle_starttag(self, tag, attrs):
        if tag in ('br', 'img', 'hr', 'input', 'meta', 'link', 'col', 'wbr', 'source', 'path'): return
        cls = (dict(attrs).get('class') or '').split()
        if tag == 'table': self.tables.append(any('table-wrap' in c for t, c in self.stack))
        self.stack.append((tag, cls))
    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag: del self.stack[i:]; break


def test_tables_scroll_inside_their_box(site):
    "Every table of every page sits in a `table-wrap` box, and that box scrolls sideways (extra.css)."
    css = (ROOT / 'docs' / 'assets' / 'extra.css').read_text()
    rule = re.search(r'\.table-wrap\s*\{([^}]*)\}', css)
    assert rule and re.search(r'overflow-x:\s*auto', rule.group(1)), 'no `.table-wrap { overflow-x: auto }` in extra.css'
    n, bare = 0, []
    for p in html_pages(site):
        wrapped = _Tables(p.read_text(encoding='utf-8')).tables
        n += len(wrapped)
        bare += [f'{p.relative_to(site)}: table {i}' for i, w in enumerate(wrapped) if not w]
    assert n > 10 and not bare, '\n'.join(bare[:20])


# -------------------------------------------------------------------------- text a reader meets on the site
def test_no_issue_numbers(site):
    "User-facing text (pages outside code blocks) cites no issue numbers of this project (`fastai issue #4173` cites upstream)."
    upstream = {'fastai', 'fastcore', 'pytorch', 'torch', 'transformers', 'huggingface', 'nbdev', 'wandb', 'mkdocs', 'numpy',
                'trax', 'jax', 'python', 'cpython', 'reformer-pytorch', 'github', 'upstream', 'sacrebleu', 'tokenizers'}
    found = []
    for p in html_pages(site):
        text = html.unescape(re.sub(r'<[^>]+>', '', re.sub(r'<(pre|script|style)\b.*?</\1>', '', p.read_text(encoding='utf-8'), flags=re.S)))
        for m in re.finditer(r'(?:([\w-]+)[\s(\[]+)?\bissues? #?\d+', text, re.I):
            if (m.group(1) or '').lower() not in upstream:
                found.append(f'{p.relative_to(site)}: ...{text[max(0, m.start() - 60):m.end() + 40]}...')
    assert not found, '\n'.join(found[:20])


@pytest.mark.skipif(REPORT is None, reason='no experiments/REPORT.md yet')
def test_report_sections_name_the_paper(site):
    "Each result section of the report is titled by the paper's table or figure (\"Table 4 — ...\", not \"wmt\")."
    md = (ROOT / REPORT).read_text()
    heads = [h for h in re.findall(r'^##\s+(.+?)\s*$', md, re.M) if h not in ('Summary', 'How these numbers were made')]
    assert heads
    bad = [h for h in heads if not re.match(r'(Table|Fig\.?|Figure|Sec\.?|Section)\s*\d', h)]
    assert not bad, f'report sections not named after the paper: {bad}'


# ------------------------------------------------------------------------------ screenshots (headless Chromium)
CHROMIUM = next((shutil.which(c) for c in ('chromium', 'chromium-browser', 'google-chrome') if shutil.which(c)), None)
WINDOW = (1280, 2000)
# run in each page once it has loaded (Material's JavaScript included): where tables, images and math ended up
_LAYOUT_JS = r'''
<script>
window.addEventListener('load', () => setTimeout(() => {
  const de = document.documentElement, problems = [], tables = [];
  const art = document.querySelector('article') || document.body, cs = getComputedStyle(art), ab = art.getBoundingClientRect();
  const box = {left: ab.left + parseFloat(cs.paddingLeft), right: ab.right - parseFloat(cs.paddingRight)};
  if (de.scrollWidth > de.clientWidth + 1) problems.push(`the page scrolls sideways: ${de.scrollWidth} > ${de.clientWidth} px`);
  art.querySelectorAll('table').forEach((t, i) => {
    const wrap = t.closest('.table-wrap');
    if (!wrap) { problems.push(`table ${i} is not in a .table-wrap box`); return; }
    if (wrap.parentElement.closest('.table-wrap')) return;   // a table inside a table cell: its outer table's box counts
    const r = wrap.getBoundingClientRect(), width = Math.max(t.scrollWidth, t.getBoundingClientRect().width);
    let scroller = null;   // the innermost box around the table, up to .table-wrap, that scrolls sideways
    for (let el = t.parentElement; el && !scroller; el = el === wrap ? null : el.parentElement) {
      const st = getComputedStyle(el);
      if (['auto', 'scroll'].includes(st.overflowX) && !st.display.startsWith('table')) scroller = el;
    }
    for (const [what, b] of [['box', r], ['scrolling box', scroller ? scroller.getBoundingClientRect() : r]])
      if (b.left < box.left - 1 || b.right > box.right + 1)
        problems.push(`table ${i}: its ${what} (${b.left | 0}-${b.right | 0} px) runs outside the text column (${box.left | 0}-${box.right | 0} px)`);
    const wide = width > r.width + 1;
    if (wide && !scroller) problems.push(`table ${i} (${width | 0} px) is wider than its box (${r.width | 0} px), which does not scroll`);
    tables.push({i, width: Math.round(width), box: Math.round(r.width), scrolls: wide});
  });
  const images = [...art.querySelectorAll('img')], broken = images.filter(im => !(im.complete && im.naturalWidth > 0)).map(im => im.getAttribute('src'));
  if (broken.length) problems.push(`images that did not load: ${broken.join(', ')}`);
  const maths = [...art.querySelectorAll('math')], flat = maths.filter(m => m.getBoundingClientRect().width < 1 && m.offsetParent !== null);
  if (flat.length) problems.push(`${flat.length} of ${maths.length} formulas rendered with no width`);
  const out = document.createElement('pre');
  out.id = 'layout-check';
  out.textContent = JSON.stringify({viewport: de.clientWidth, page_width: de.scrollWidth, text_column: box, tables,
                                    images: images.length, math: maths.length, problems});
  document.body.appendChild(out);
}, 200));
</script>
'''


def _chromium(args: list[str], profile: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, '--headless', '--disable-gpu', '--no-first-run', '--no-default-browser-check', '--mute-audio',
           '--disable-extensions', f'--user-data-dir={profile}', f'--window-size={WINDOW[0]},{WINDOW[1]}']
    if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--no-sandbox')   # Chromium refuses root otherwise
    return subprocess.run(cmd + args, capture_output=True, text=True, timeout=timeout)


def _shot_pages() -> dict[str, str]:
    "The pages looked at in a browser: the home page, one API page (LSH) and the report."
    pages = {'home': 'index.html', 'lsh': page_of(nb_of('lsh'))}
    if REPORT is not None: pages['report'] = page_of(REPORT)
    return pages


@pytest.mark.skipif(CHROMIUM is None, reason='no headless browser: install Debian\'s `chromium` (apt-get install -y chromium) '
                    'to screenshot the home, LSH and report pages and check that no table runs out of its box')
def test_screenshots(site, tmp_path):
    """The home, LSH and report pages in headless Chromium at 1280x2000: each screenshot is a real picture (not blank),
    and in the laid-out page no table runs out of its box, the page doesn't scroll sideways, every image loaded
    and every formula has a width. DOCS_SCREENSHOTS_DIR=folder keeps the PNGs."""
    Image = pytest.importorskip('PIL.Image', reason='Pillow (a fastai dependency) is needed to read the screenshots')
    keep = os.environ.get('DOCS_SCREENSHOTS_DIR')
    shots = Path(keep) if keep else tmp_path / 'shots'
    shots.mkdir(parents=True, exist_ok=True)
    copy = tmp_path / 'site'   # a copy of the site with the layout check added to the pages looked at
    shutil.copytree(site, copy)
    problems = []
    for name, rel in _shot_pages().items():
        png = shots / f'{name}.png'
        r = _chromium([f'--screenshot={png}', (site / rel).resolve().as_uri()], tmp_path / 'profile')
        assert png.exists(), f'no screenshot of {rel}: {r.stderr[-2000:]}'
        with Image.open(png) as im:
            assert im.size == WINDOW, f'{png.name}: {im.size}, not {WINDOW}'
            colours = im.convert('RGB').getcolors(maxcolors=1 << 20) or []
            top = max(c for c, _ in colours) / (im.size[0] * im.size[1])
        assert len(colours) >= 64 and top < 0.95, f'{png.name} looks blank: {len(colours)} colours, {top:.0%} one colour'

        p = copy / rel
        p.write_text(p.read_text(encoding='utf-8').replace('</body>', _LAYOUT_JS + '</body>'), encoding='utf-8')
        r = _chromium(['--dump-dom', '--virtual-time-budget=15000', p.resolve().as_uri()], tmp_path / 'profile')
        m = re.search(r'<pre id="layout-check">(.*?)</pre>', r.stdout, re.S)
        assert m, f'the layout check did not run on {rel}: {r.stderr[-2000:]}'
        check = json.loads(html.unescape(m.group(1)))
        (shots / f'{name}.layout.json').write_text(json.dumps(check, indent=1))
        problems += [f'{rel}: {p}' for p in check['problems']]
        if name == 'lsh': assert check['math'] >= 20 and check['tables'], check
        if name == 'report': assert check['images'] >= 1 and len(check['tables']) >= _md_tables((ROOT / REPORT).read_text()), check
    assert not problems, '\n'.join(problems)
