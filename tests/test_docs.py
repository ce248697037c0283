"""The offline docs site built by docs/build.py: every page exists and carries its key content.

The site is built once per session into a temporary folder (about a minute on 2 cores), unless
DOCS_SITE_DIR names a build that is newer than every source and finished without errors:

    python docs/build.py && DOCS_SITE_DIR=docs/site pytest tests/test_docs.py

Expected pages are discovered here independently of the build script: one per nbs/*.ipynb (not `_*`, not
index), one per experiments/**/*.ipynb, one per experiments/*.md (REPORT.md among them), and the home page.
"""
from __future__ import annotations

import html, importlib, importlib.util, inspect, json, os, re, subprocess, sys
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
    out = tmp_path_factory.mktemp('docs') / 'site'
    r = subprocess.run([sys.executable, str(BUILD), '--site', str(out)], cwd=ROOT, capture_output=True, text=True, timeout=1500)
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


def _module_of(nb: str) -> str | None:
    src = '\n'.join(''.join(c['source']) for c in json.loads((ROOT / nb).read_text())['cells'] if c['cell_type'] == 'code')
    m = re.search(r'^\s*#\|\s*default_exp\s+(\S+)', src, re.M)
    return m.group(1) if m else None


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
        assert name in pg.article, f'{name} (in reformer_repro.{mod_name}.__all__) does not appear on {page_of(nb)}'
        obj = getattr(mod, name)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)) or getattr(obj, '__module__', None) != mod.__name__: continue
        assert name in pg.ids, f'no show_doc entry (anchor #{name}) for {name} on {page_of(nb)}'
        assert f'{name}(' in pg.article, f'signature of {name} missing on {page_of(nb)}'
        for p in _own_params(obj): assert p in pg.article, f'parameter {p!r} of {name} missing on {page_of(nb)}'


def test_lsh_page(site):
    "The LSH page: its TeX is MathML, its tables are tables, its API entries have signatures and docstrings."
    pg = page(site, 'nbs/04_lsh.html')
    src = pg.path.read_text(encoding='utf-8')
    assert src.count('<math') >= 20 and len(pg.find('table')) >= 1
    for s in ('def lsh_attention(', 'def hash_vectors(', 'LSHSelfAttention(', 'A brute-force reference'):
        assert s in pg.article, f'{s!r} missing from the LSH page'


def test_training_page_demos(site):
    "The training pages: metrics API entries in source order, and the demo of each task (its code; outputs appear when the notebook is run)."
    pg = page(site, 'nbs/20_train_metrics.html')
    names = ('lm_loss', 'masked_accuracy', 'bits_per_char', 'perplexity')   # one exported cell, in this order
    test_order = [a['id'] for t, a in pg.tags if a.get('id') in names]
    assert test_order == list(names), test_order
    art = page(site, 'nbs/25_train_run.html').article
    for s in ('Demos: the three tasks', 'def demo_spec(', "demo_spec('synthetic')", "demo_spec('enwik8')", "demo_spec('wmt14')"):
        assert s in art, f'{s!r} missing from the training-run page'


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
    core = page(site, 'nbs/00_core.html').article
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
