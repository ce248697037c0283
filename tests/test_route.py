"""One training route: the same spec and seed through `train(spec)`, through `reformer-repro train` (a subprocess)
and through the experiment runner give identical numbers — for the synthetic task, enwik8 (the shared 1 MB
prefix) and WMT14 (the shared sample), at a tiny size.

The spec is the runner's own (`exp.runners.train_spec` of a smoke config with a few overrides), so the three
calls differ only in who calls `train`: the runner adds logging fields (wandb mode, run name), the command line
adds an output folder (checkpoint + results.json). Neither may change a number.
"""
import json, os, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault('WANDB_MODE', 'disabled'); os.environ.setdefault('WANDB_SILENT', 'true')
os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('HF_DATASETS_OFFLINE', '1')

from reformer_repro.core import find_shared_data
from reformer_repro.exp.configs import get_config
from reformer_repro.exp.runners import train_spec, run_task
from reformer_repro.train.run import train

CASES = {   # task: (overrides of the smoke config that leave one tiny arm, the arm, the metric compared)
    'synthetic': (['steps=6', 'train_arms=lsh-2', 'eval_arms=full,lsh-1', 'n_valid=8', 'bs=4'], 'lsh-2', 'accuracy'),
    'shared_qk': (['steps=4', 'eval_every=2', 'eval_batches=2', 'prefix_bytes=20000', 'seq_len=32', 'bs=4',
                   'arms={"full": {"family": "TransformerLM"}}'], 'full', 'valid_bpc'),
    'wmt': (['epochs=1', 'n_train=64', 'n_valid=8', 'n_test=4', 'vocab_size=300', 'max_len=32', 'bs=16',
             'arms={"reversible": {"reversible": true}}'], 'reversible', 'valid_loss'),
}
NEEDS_DATA = {'shared_qk', 'wmt'}


def cli_train(spec: dict, tmp: Path) -> dict:
    "`reformer-repro train --config spec.json` in a fresh process; its results.json."
    f = tmp/'spec.json'; f.write_text(json.dumps(spec))
    out = tmp/'out'
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''), OMP_NUM_THREADS='1')
    p = subprocess.run([sys.executable, '-m', 'reformer_repro.cli', 'train', '--config', str(f), '--out-dir', str(out),
                        '--wandb', 'disabled'], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads((out/'results.json').read_text())


@pytest.mark.parametrize('task', list(CASES))
def test_one_route(task, tmp_path):
    if task in NEEDS_DATA and find_shared_data() is None: pytest.skip('the shared data folder is not here')
    import torch; torch.set_num_threads(1)
    overrides, arm, metric = CASES[task]
    cfg = get_config(task, 'smoke', overrides)
    spec = train_spec(cfg, arm, 0)

    direct = train(spec)
    cli = cli_train(spec, tmp_path)
    (path,) = run_task(task, 'smoke', results_dir=tmp_path/'results', wandb='disabled', cfg=cfg, log=lambda m: None)
    runner = json.loads(path.read_text())

    if task == 'synthetic':      # Table 2's row: the same weights evaluated with each attention
        assert direct.metrics['eval'] == cli['metrics']['eval'] == runner['metrics']['accuracy'], (direct.metrics, cli['metrics'], runner['metrics'])
        assert set(direct.metrics['eval']) == {'full', 'lsh-1'}
    else:
        assert direct.metrics[metric] == cli['metrics'][metric] == runner['metrics'][metric]
    main = {k: v for k, v in direct.metrics.items() if isinstance(v, float)}
    assert main and main == {k: v for k, v in cli['metrics'].items() if isinstance(v, float)}
    if direct.curves:
        assert direct.curves == cli['curves']
        for k in ('step', 'train_loss'): assert direct.curves[k] == runner['curves'][k]
    if task == 'wmt': assert direct.metrics['bleu'] == cli['metrics']['bleu'] == runner['metrics']['bleu']
    assert direct.steps == cli['steps'] == runner['metrics']['steps']
    assert direct.info.get('data_fingerprint') == cli['info'].get('data_fingerprint') == runner.get('data_fingerprint')
