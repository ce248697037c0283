#!/usr/bin/env python
"""Peak memory and time of one training step vs depth: TransformerLM, ReversibleLM, LSHLM and ReformerLM at
n_layers 1, 2, 4, 8, 12, sequence length 4096, batch 1, d_model 256, each case in a fresh process. The measurement
is `reformer_repro.bench.cases.memory_depth_case` (nbs/32_bench_cases.ipynb explains it); this script parses the
command line, runs the sweep and writes JSON, a table and a plot.

    python experiments/bench_memory_depth.py                      # CPU, writes results/bench/memory_depth_cpu.{json,png}
    python experiments/bench_memory_depth.py --device cuda        # GPU (torch.cuda.max_memory_allocated)
    python experiments/bench_memory_depth.py --layers 1 2 --seq-len 1024 --models ReformerLM   # a quick look
"""
import argparse, json, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))        # run from a checkout without installing
from reformer_repro.bench.cases import (MEMORY_MODELS, memory_depth_sweep, memory_ratios, memory_table,
                                        plot_memory_depth)
from reformer_repro.bench.harness import bench_meta

OUT = ROOT / 'experiments' / 'results' / 'bench'


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--device', default='cpu', help="'cpu' (RSS high-water mark) or 'cuda' (max_memory_allocated)")
    ap.add_argument('--models', nargs='+', default=list(MEMORY_MODELS), choices=MEMORY_MODELS)
    ap.add_argument('--layers', nargs='+', type=int, default=[1, 2, 4, 8, 12])
    ap.add_argument('--seq-len', type=int, default=4096)
    ap.add_argument('--batch', type=int, default=1)
    ap.add_argument('--d-model', type=int, default=256)
    ap.add_argument('--n-heads', type=int, default=4)
    ap.add_argument('--steps', type=int, default=None, help='training steps per case (default 1 on CPU, 3 on CUDA); '
                    'memory is the peak over all, time the fastest')
    ap.add_argument('--threads', type=int, default=0, help='torch.set_num_threads in each case (0: leave as is)')
    ap.add_argument('--timeout', type=float, default=900)
    ap.add_argument('--out', type=Path, default=None, help='output stem (default results/bench/memory_depth_<device>)')
    ap.add_argument('--merge', action='store_true', help='keep the cases of an existing output file that this run does not redo')
    a = ap.parse_args(argv)
    stem = a.out or OUT / f"memory_depth_{a.device.split(':')[0]}"
    t0 = time.time()
    results = memory_depth_sweep(a.models, a.layers, progress=False, seq_len=a.seq_len, batch=a.batch, d_model=a.d_model,
                                 n_heads=a.n_heads, device=a.device, steps=a.steps, threads=a.threads or None,
                                 timeout=a.timeout)
    meta = bench_meta(device=a.device, seq_len=a.seq_len, batch=a.batch, d_model=a.d_model, n_heads=a.n_heads,
                      steps=a.steps or (1 if a.device == 'cpu' else 3), threads=a.threads or 'default',
                      wall_s=round(time.time() - t0, 1), command=' '.join(sys.argv),
                      measure='CPU: ru_maxrss - RSS after building model and Adam state (MALLOC_MMAP_THRESHOLD_=131072); '
                              'CUDA: max_memory_allocated - memory_allocated; activation = that - gradient bytes')
    if a.merge and Path(f'{stem}.json').exists():
        done = {(r['model'], r['n_layers']) for r in results}
        old = [r for r in json.loads(Path(f'{stem}.json').read_text())['results'] if (r['model'], r['n_layers']) not in done]
        order = {m: i for i, m in enumerate(MEMORY_MODELS)}
        results = sorted(old + results, key=lambda r: (order.get(r['model'], 99), r['n_layers']))
    rat = memory_ratios(results)
    Path(stem).parent.mkdir(parents=True, exist_ok=True)
    Path(f'{stem}.json').write_text(json.dumps(dict(meta=meta, ratios=rat, results=results), indent=1, default=str))
    plot_memory_depth(results, Path(f'{stem}.png'),
                      f"one training step, seq_len {a.seq_len}, batch {a.batch}, d_model {a.d_model}, {a.device}")
    print(memory_table(results)); print(json.dumps(rat, indent=1)); print(f'wrote {stem}.json/.png')


if __name__ == '__main__': main()
