"""The GPU benchmark script (`experiments/bench_gpu.py`) at tiny sizes on CPU, for real: every part (peers in fp32
and bf16, the LSH-vs-SDPA crossover for one layer and the whole LM, the profile, bf16 vs fp32 gradients, the
paper-scale step) runs and
writes its JSON and markdown, in under a minute — so the script is ready when a GPU is."""
import json, os, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_bench_tiny_on_cpu(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''), OMP_NUM_THREADS='1')
    t0 = time.time()
    p = subprocess.run([sys.executable, str(ROOT / 'experiments' / 'bench_gpu.py'), '--tiny', '--device', 'cpu',
                        '--threads', '1', '--out', str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    wall = time.time() - t0
    assert p.returncode == 0, f"exit {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    assert wall < 60, f"--tiny took {wall:.0f} s (> 1 min)"

    d = json.loads((tmp_path / 'gpu_cpu_tiny.json').read_text())
    assert d['meta']['tiny'] and d['meta']['code_version']
    rows = d['crossover']
    assert {(r['kind'], r['dtype']) for r in rows} == {(k, t) for k in ('layer', 'lm') for t in ('float32', 'bfloat16')}
    assert {r['arm'] for r in rows} == {'full', 'lsh-1', 'lsh-2'}
    assert all('error' not in r and r['time_s'] > 0 for r in rows), [r.get('error') for r in rows]
    assert len(d['crossover_points']) == 2 * 2 * 2
    assert {(p['kind'], p['dtype']) for p in d['profiles']} == {(k, t) for k in ('layer', 'lm') for t in ('float32', 'bfloat16')}
    assert all({'sort', 'gather', 'attention'} <= set(p['groups']) for p in d['profiles'])
    assert [c['model'] for c in d['bf16']] == ['LSHLM', 'ReformerLM']
    assert all(c['grads_finite'] and c['grad_cosine'] > 0.98 for c in d['bf16']), d['bf16']
    assert [s['n_layers'] for s in d['paper_scale']] == [1, 2] and all(s['fits'] and s['loss_finite'] for s in d['paper_scale'])

    md = (tmp_path / 'gpu_cpu_tiny.md').read_text()
    for h in ('## LSH vs SDPA full attention', '## Where LSH time goes', '## bf16 autocast vs fp32', "## The paper's enwik8 model"):
        assert h in md, h
    for name in ('peers_cpu_quick', 'peers_cpu_bf16_quick'):
        res = json.loads((tmp_path / f'{name}.json').read_text())['results']
        assert {(r['impl'], r['mode']) for r in res if 'error' not in r} == \
            {(i, m) for i in ('ours-LSHLM', 'SDPA-full') for m in ('infer', 'train')}, name
        assert '## Training step' in (tmp_path / f'{name}.md').read_text()
