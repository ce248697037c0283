"""Run every notebook in nbs/ as a test, the way `nbdev-test` does, one pytest case per notebook.

The tests themselves live in the notebooks (nbdev style); this file only lets pytest schedule them in
parallel (`pytest -n 2`) and report them one by one. Cells flagged with a `tst_flags` flag from
pyproject.toml (`slow`, `notest`) are skipped unless `REFORMER_TEST_FLAGS="slow"` is set.
"""
import os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
# library notebooks, then the per-claim experiment notebooks (smoke scale, through the same code)
NOTEBOOKS = sorted((ROOT / 'nbs').glob('[0-9]*.ipynb')) + sorted((ROOT / 'experiments').glob('[0-9]*.ipynb'))

# pytest -n 2 on 2 cores: one thread per worker avoids oversubscription (10x slower small-model cells otherwise)
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('WANDB_MODE', 'disabled')
os.environ.setdefault('WANDB_SILENT', 'true')
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('HF_DATASETS_OFFLINE', '1')


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[f'{p.parent.name}/{p.stem}' for p in NOTEBOOKS])
def test_notebook(nb):
    from nbdev.config import get_config
    from nbdev.test import test_nb
    import torch
    torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))
    cfg = get_config(ROOT)
    skip = str(cfg.tst_flags).split()
    force = os.environ.get('REFORMER_TEST_FLAGS', '').split()
    ok, secs = test_nb(nb, skip_flags=skip, force_flags=force, basepath=ROOT)
    assert ok, f"{nb.name} failed (traceback above)"


def test_found_notebooks():
    assert len(NOTEBOOKS) >= 4, f"expected the library notebooks in {ROOT / 'nbs'}"
