"""Data-parallel training with 2 CPU processes (gloo), launched by torchrun through `reformer-repro train`
(the one training route): it trains, the replicas end bit-identical, and only rank 0 logs to wandb and saves."""
import json, os, re, socket, subprocess, sys
from pathlib import Path
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason='torch.distributed with the gloo backend is needed')
def test_two_process_gloo_training(tmp_path):
    out = tmp_path / 'run'
    env = {**os.environ, 'WANDB_MODE': 'offline', 'WANDB_SILENT': 'true', 'WANDB_DIR': str(tmp_path),
           'HF_HUB_OFFLINE': '1', 'HF_DATASETS_OFFLINE': '1', 'OMP_NUM_THREADS': '1', 'CUDA_VISIBLE_DEVICES': '',
           'PYTHONPATH': os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')])}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_addr', '127.0.0.1',
           '--master_port', str(_free_port()), '-m', 'reformer_repro.cli', 'train',
           '--task', 'synthetic', '--data', json.dumps(dict(seq_len=16, vocab_sz=8, n_train=512, n_valid=64, bs=16)),
           '--model', json.dumps(dict(d_model=32, n_layers=1, n_heads=2, dropout=0.1)),
           '--n-epoch', '2', '--lr', '5e-3', '--save-every', '10', '--eval-every', '8', '--wandb', 'offline', '--out-dir', str(out),
           '--verbose']
    r = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=400)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-5000:]

    res = json.loads((out / 'results.json').read_text())
    assert res['world_size'] == 2
    # 512 sequences / 16 per batch / 2 processes = 16 steps per epoch and process
    assert res['steps'] == 32, res['steps']
    # it trains: the full-validation loss falls clearly below the untrained model's
    assert res['metrics']['valid_loss'] < 0.85 * res['initial']['valid_loss'], res
    assert res['metrics']['valid_accuracy'] > res['initial']['valid_accuracy']
    # the curve is measured at every eval_every steps of each process
    assert res['curves']['step'] == [0, 8, 16, 24, 32], res['curves']
    # ranks agree: both replicas hold bit-identical parameters after training
    digests = res['info']['param_digests']
    assert len(digests) == 2 and digests[0] == digests[1], digests
    for rank in (0, 1): assert f'[rank {rank}] done: 32 steps' in log
    assert log.count('reformer-repro train: synthetic: 32 steps') == 1, log[-3000:]   # one summary line, from rank 0
    # only rank 0 saves: checkpoints at steps 10, 20, 30 and the end, all from rank 0, with both ranks' RNG states
    saves = re.findall(r'\[rank (\d+)\] saved checkpoint \S+ at step (\d+)', log)
    assert saves == [('0', '10'), ('0', '20'), ('0', '30'), ('0', '32')], saves
    ckpt = torch.load(out / 'checkpoint.pth', weights_only=True)
    assert ckpt['meta']['saved_by_rank'] == 0 and ckpt['meta']['world_size'] == 2 and len(ckpt['ranks']) == 2
    assert sorted(p.name for p in out.glob('*.pth')) == ['checkpoint.prev.pth', 'checkpoint.pth']   # the last one, and the one before
    # only rank 0 logs: exactly one (offline) wandb run
    runs = list((out / 'wandb').glob('offline-run-*'))
    assert len(runs) == 1, runs
    assert list(runs[0].glob('run-*.wandb'))
