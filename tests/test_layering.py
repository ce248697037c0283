"""The package's floors: imports flow downward only, nothing imports a script, no import patches another library.

Every module of `reformer_repro` is parsed with `ast` (nothing is imported for the first three tests) and given its
floor; within a floor, the order of the notebooks the modules are exported from (the number in the
`File to edit: ../nbs/NN_name.ipynb` header). A module may import modules of lower floors, or of its own floor that
come earlier in notebook order; a subpackage's hand-written `__init__.py` may re-export its own package's modules.
Function-local imports count too: a lazy import is still a dependency.
"""
import ast, json, re, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / 'reformer_repro'

FLOORS = {'core': 0, 'layers': 1, 'attention': 1, 'lsh': 1, 'lsh_kernels': 1, 'reversible': 2, 'transformer': 3,
          'reformer': 4, 'hf': 4, 'data': 5, 'train': 6, 'bench': 7, 'exp': 8, 'cli': 9}
NOT_IN_LAYERS = {'reformer_repro', 'reformer_repro._modidx'}   # the package docstring/version and nbdev's index
SCRIPT_NAMES = re.compile(r'^(experiments|bench_\w+|docs|tests)(\.|$)')


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix('').parts)
    if parts[-1] == '__init__': parts = parts[:-1]
    return '.'.join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PKG.rglob('*.py')) if '__pycache__' not in p.parts}


def floor_of(mod: str) -> int:
    top = mod.split('.')[1] if '.' in mod else ''
    if top not in FLOORS: raise AssertionError(f"{mod} has no floor: add it to FLOORS in tests/test_layering.py")
    return FLOORS[top]


def order_of(path: Path) -> float:
    "Notebook number of an exported module; hand-written modules (package `__init__`, a child program) come last."
    m = re.search(r'File to edit: \S*?/nbs/(\d+)_', path.read_text()[:2000])
    return int(m.group(1)) if m else float('inf')


def imports_of(mod: str, path: Path) -> list[tuple[str, int]]:
    "(absolute module name, line) of every import in `path`, relative ones resolved; `from pkg import name` gives pkg.name when that is a module."
    tree = ast.parse(path.read_text(), filename=str(path))
    pkg = mod if path.name == '__init__.py' else mod.rpartition('.')[0]
    known = modules()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split('.')
                base = base[:len(base) - (node.level - 1)]
                name = '.'.join(base + ([node.module] if node.module else []))
            else: name = node.module
            subs = [f"{name}.{a.name}" for a in node.names if f"{name}.{a.name}" in known]
            out += [(s, node.lineno) for s in subs] or [(name, node.lineno)]
    return out


def internal(name: str) -> str | None:
    "The reformer_repro module `name` refers to (itself or the closest enclosing module), else None."
    if not (name == 'reformer_repro' or name.startswith('reformer_repro.')): return None
    known = modules()
    while name not in known and '.' in name: name = name.rpartition('.')[0]
    return name


def edges() -> dict[str, list[tuple[str, int]]]:
    return {m: [(internal(n), line) for n, line in imports_of(m, p) if internal(n) and internal(n) != m]
            for m, p in modules().items()}


def test_every_module_has_a_floor():
    for m in modules():
        if m not in NOT_IN_LAYERS: floor_of(m)


def test_imports_flow_downward():
    mods, bad = modules(), []
    for m, deps in edges().items():
        if m in NOT_IN_LAYERS: continue
        fm, om = floor_of(m), order_of(mods[m])
        for d, line in deps:
            if d == 'reformer_repro': continue               # the package itself (version)
            if d in NOT_IN_LAYERS: bad.append(f"{m}:{line} imports {d}"); continue
            fd, od = floor_of(d), order_of(mods[d])
            own_init = mods[m].name == '__init__.py' and d.startswith(m + '.')
            if fd > fm or (fd == fm and od >= om and not own_init):
                bad.append(f"{m} (floor {fm}, nb {om}) imports {d} (floor {fd}, nb {od}) at line {line}")
    assert not bad, 'upward or sideways imports:\n' + '\n'.join(bad)


def test_no_circular_imports():
    g = {m: {d for d, _ in deps} for m, deps in edges().items()}
    state, stack, cycles = {}, [], []
    def visit(m):
        state[m] = 1; stack.append(m)
        for d in g.get(m, ()):
            if state.get(d) == 1: cycles.append(stack[stack.index(d):] + [d])
            elif d not in state: visit(d)
        state[m] = 2; stack.pop()
    for m in g:
        if m not in state: visit(m)
    assert not cycles, 'import cycles: ' + '; '.join(' -> '.join(c) for c in cycles)


def test_no_script_imports():
    bad = []
    for m, p in modules().items():
        src = p.read_text()
        for name, line in imports_of(m, p):
            if SCRIPT_NAMES.match(name): bad.append(f"{m}:{line} imports {name}")
        for hit in ('spec_from_file_location', 'SourceFileLoader', 'runpy.run_path'):
            if hit in src: bad.append(f"{m} loads code by path ({hit})")
    assert not bad, '\n'.join(bad)


PROBE = r'''
import importlib, json, sys
import fastai.distributed as fd, fastai.callback.wandb as fw, fastai.learner as fl, wandb
def snap():
    s = {}
    for owner, name in ((fd, 'DistributedDL'), (fw, 'WandbCallback'), (fl, 'Learner')):
        for k, v in vars(getattr(owner, name)).items(): s[f"{owner.__name__}.{name}.{k}"] = id(v)
    for mod in (fd, fw, fl):
        for k, v in vars(mod).items():
            if callable(v): s[f"{mod.__name__}.{k}"] = id(v)
    for k in ('init', 'log', 'finish', 'config', 'Settings'): s[f"wandb.{k}"] = id(getattr(wandb, k, None))
    return s
base = snap(); out = {}
for m in sys.argv[1:]:
    importlib.import_module(m)
    now = snap()
    changed = sorted(k for k in base if now.get(k) != base[k])
    if changed: out[m] = changed; base = now
print(json.dumps(out))
'''


def test_imports_patch_nothing():
    "Import every module (lowest floor first) in a fresh process; fastai's and wandb's objects stay the same."
    mods = modules()
    order = sorted((m for m in mods if m not in NOT_IN_LAYERS), key=lambda m: (floor_of(m), order_of(mods[m]), m))
    order = [m for m in order if not m.endswith('.child')]      # a program run with `python -m`, not a library module
    p = subprocess.run([sys.executable, '-c', PROBE, *order], cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env={**__import__('os').environ, 'PYTHONPATH': str(ROOT), 'WANDB_MODE': 'disabled', 'OMP_NUM_THREADS': '1'})
    assert p.returncode == 0, p.stderr[-3000:]
    patched = json.loads(p.stdout.strip().splitlines()[-1])
    assert not patched, 'importing these modules patched other libraries:\n' + '\n'.join(f"{m}: {v}" for m, v in patched.items())
