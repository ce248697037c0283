#!/usr/bin/env python
"""Every GPU measurement of the library in one run: the peer benchmark in fp32 and bf16, LSH (1/2/4/8 hashes) vs
SDPA full attention from 1K to 128K tokens (one layer and the whole LM, fp32 and bf16), a torch.profiler summary of
where LSH's time goes, bf16 autocast against fp32 (loss and gradients of LSHLM and ReformerLM), and one training step of the paper's enwik8 ReformerLM (64K tokens) at 3 and 12 layers.
The measurements are `reformer_repro.bench.cases` and `reformer_repro.bench.peers`; this script parses the command
line, runs the parts asked for and writes JSON + markdown.

    python experiments/bench_gpu.py                              # everything, on the GPU
    python experiments/bench_gpu.py --parts crossover profile    # some parts (peers, crossover, profile, bf16, paper)
    python experiments/bench_gpu.py --tiny --device cpu          # the same plumbing at tiny sizes on CPU (< 1 min)

Where one command may run at most ~10 minutes, run it in two parts: `--parts peers` (every peer in its own
process, fp32 then bf16, each dtype starting no case after --peer-budget-min minutes) and then
`--parts crossover profile bf16 paper` (one process; an arm that runs out of memory stops at that length). The sizes
here are a plan, not yet timed on a GPU.

Writes to --out (default experiments/results/bench; with --tiny experiments/runs/bench_gpu_tiny):
gpu_<device>.{json,md} (crossover, profile, paper scale) and peers_<device>[_bf16].{json,md} (+ plots).
"""
import argparse, json, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))        # run from a checkout without installing
import torch
from reformer_repro.bench.cases import (LM_SHAPE, crossover_sweep, crossover_points, profile_lsh, bf16_grad_check,
                                        paper_scale_step, gpu_report_md)
from reformer_repro.bench.harness import bench_meta
from reformer_repro.bench.peers import run_peers, write_peers_report, peers_stem

PARTS = ('peers', 'crossover', 'profile', 'bf16', 'paper')
FULL = dict(peer_lengths=[1024, 4096, 16384, 65536], peer_n_hashes=[4], lengths=[1024 * 2 ** i for i in range(8)],
            n_hashes=[1, 2, 4, 8], profile_len=16384, bf16_len=4096, paper_len=65536, paper_layers=[3, 12], warmup=2, repeats=5,
            layer={}, lm={}, paper={}, peer_impls=None, matmul_n=None)
TINY = dict(peer_lengths=[256], peer_n_hashes=[2], lengths=[128, 256], n_hashes=[1, 2], profile_len=256, bf16_len=256,
            paper_len=256,
            paper_layers=[1, 2], warmup=0, repeats=1, layer=dict(d_model=32, n_heads=2, bucket_size=16),
            lm=dict(d_model=32, d_ff=64, n_heads=2, bucket_size=16),
            paper=dict(d_model=32, d_ff=64, n_heads=2, bucket_size=16, n_hashes=2),
            peer_impls=['ours-LSHLM', 'SDPA-full'], matmul_n=256)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--parts', nargs='+', default=list(PARTS), choices=PARTS)
    ap.add_argument('--tiny', action='store_true', help='tiny sizes: checks the whole run on CPU in under a minute')
    ap.add_argument('--lengths', nargs='+', type=int, default=None, help='crossover lengths (default 1K..128K)')
    ap.add_argument('--dtypes', nargs='+', default=['float32', 'bfloat16'], choices=['float32', 'bfloat16'])
    ap.add_argument('--peer-budget-min', type=float, default=4.,
                    help='start no peer case after this many minutes, per dtype')
    ap.add_argument('--threads', type=int, default=None, help='torch threads (CPU)')
    ap.add_argument('--out', type=Path, default=None)
    a = ap.parse_args(argv)
    s = TINY if a.tiny else FULL
    if a.threads: torch.set_num_threads(a.threads)
    out = a.out or ROOT / 'experiments' / ('runs/bench_gpu_tiny' if a.tiny else 'results/bench')
    dev = a.device.split(':')[0]
    stem = out / (f'gpu_{dev}' + ('_tiny' if a.tiny else ''))
    command = ' '.join([Path(sys.executable).name] + sys.argv)
    d = dict(meta=bench_meta(command=command, device=a.device, tiny=a.tiny, parts=a.parts, sizes=s),
             layer_shape=s['layer'] or dict(d_model=256, n_heads=4, bucket_size=64), lm_shape={**LM_SHAPE, **s['lm']},
             peers=[])
    save = lambda: (Path(f'{stem}.json').write_text(json.dumps(d, indent=1, default=str)),
                    Path(f'{stem}.md').write_text(gpu_report_md(d)))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if 'peers' in a.parts:
        for dtype in a.dtypes:
            ps = peers_stem(out, a.device, dtype, quick=a.tiny)
            run_peers(ps, impls=s['peer_impls'], quick=a.tiny, lengths=s['peer_lengths'], n_hashes=s['peer_n_hashes'],
                      layers=[2],
                      device=a.device, dtype=dtype, threads=a.threads or (1 if a.tiny else 2),
                      warmup=max(s['warmup'], 1),
                      repeats=s['repeats'] if a.tiny else 3, mem_cap_mib=120_000. if dev == 'cuda' else 12288.,
                      mem_limit_mib=None if dev == 'cuda' else 16384., budget_min=a.peer_budget_min,
                      matmul_n=s['matmul_n'], isolate=not a.tiny, command=command, progress=False)
            plot = (out / f'{ps.name}.png') if a.tiny or a.out else ROOT / 'experiments' / 'plots' / f'{ps.name}.png'
            write_peers_report(ps, plot)
            d['peers'].append(f'{ps}.md'); save()
    if 'crossover' in a.parts:
        d['crossover'] = crossover_sweep(a.lengths or s['lengths'], s['n_hashes'], a.dtypes, device=a.device,
                                         warmup=s['warmup'], repeats=s['repeats'], layer_kwargs=s['layer'],
                                         lm_kwargs=s['lm'], progress=False)
        d['crossover_points'] = crossover_points(d['crossover']); save()
    if 'profile' in a.parts:
        d['profiles'] = [profile_lsh(s['profile_len'], n_hashes=4 if not a.tiny else 2, kind=k, device=a.device,
                                     dtype=dt, steps=3 if not a.tiny else 1, layer_kwargs=s['layer'], lm_kwargs=s['lm'])
                         for k in ('layer', 'lm') for dt in a.dtypes]
        save()
    if 'bf16' in a.parts:
        d['bf16'] = [bf16_grad_check(m, s['bf16_len'], a.device, **s['lm']) for m in ('LSHLM', 'ReformerLM')]
        save()
    if 'paper' in a.parts:
        d['paper_scale'] = [paper_scale_step(L, s['paper_len'], a.device, **s['paper']) for L in s['paper_layers']]
        save()
    d['meta']['wall_s'] = round(time.time() - t0, 1)           # part by part in d['wall_s']
    save()
    print(gpu_report_md(d))
    print(f'wrote {stem}.json and {stem}.md' + ''.join(f', {p}' for p in d['peers']))


if __name__ == '__main__': main()
