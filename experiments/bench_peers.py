#!/usr/bin/env python
"""Peer benchmark: one training step and one inference forward of the same causal character LM in this library,
reformer-pytorch and Hugging Face transformers, at growing sequence length, with time, peak memory and the FLOP
bound. The cases, the grid and the report are `reformer_repro.bench.peers` (nbs/33_bench_peers.ipynb); this
script parses the command line and calls them.

    make bench                                         # the full grid (25-50 min on 2 cores, in 25-min parts)
    python experiments/bench_peers.py --quick --threads 1        # < 2 min check
    python experiments/bench_peers.py --report-only               # rebuild .md and plot from the JSON
    python experiments/bench_peers.py --lengths 4096 --n-hashes 4 --layers 2 --impls ours-ReformerLM HF-Reformer
    python experiments/bench_peers.py --device cuda --dtype bfloat16 --lengths 4096 16384 65536   # GPU (autocast bf16)

Writes experiments/results/bench/peers_<device>[_bf16][_quick].{json,md} and experiments/plots/peers_<...>.png.
"""
import argparse, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))        # run from a checkout without installing
from reformer_repro.bench.peers import IMPLS, DEFAULT_IMPLS, run_peers, write_peers_report, peers_stem

RESULTS, PLOTS = ROOT / 'experiments' / 'results' / 'bench', ROOT / 'experiments' / 'plots'


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--quick', action='store_true', help='tiny grid (L 256 and 512, n_hashes 2, 2 layers, 1 repeat): a check in < 2 min')
    ap.add_argument('--impls', nargs='+', default=None, choices=list(IMPLS), help=f'default: {DEFAULT_IMPLS}')
    ap.add_argument('--lengths', nargs='+', type=int, default=None, help='replace the default grid by lengths × n_hashes × layers')
    ap.add_argument('--n-hashes', nargs='+', type=int, default=None)
    ap.add_argument('--layers', nargs='+', type=int, default=None)
    ap.add_argument('--modes', default='both', choices=['both', 'train', 'infer'])
    ap.add_argument('--threads', type=int, default=2, help='torch threads in every case (default 2)')
    ap.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    ap.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16'], help='bfloat16: autocast (mixed precision)')
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--repeats', type=int, default=None, help='default 3 (1 with --quick)')
    ap.add_argument('--optimizer', default='adam', choices=['adam', 'sgd', 'none'], help='step after backward (same for all)')
    ap.add_argument('--time-cap', type=float, default=30., help='skip a longer L when the predicted step time exceeds this (s)')
    ap.add_argument('--mem-cap-mib', type=float, default=12288., help='skip a longer L when the predicted peak exceeds this')
    ap.add_argument('--mem-limit-mib', type=float, default=16384., help='CPU: address space a case may add (else OOM error)')
    ap.add_argument('--timeout', type=float, default=600., help='seconds per case process')
    ap.add_argument('--budget-min', type=float, default=25., help='start no case after this many minutes (0: no limit); '
                    'the skipped ones are marked and --resume runs them')
    ap.add_argument('--rp-bucket-size', type=int, default=64, help='reformer-pytorch bucket_size (= its chunk); 128 matches our window')
    ap.add_argument('--hf-chunk', type=int, default=128, help="HF lsh_attn_chunk_length (128 = ours: n_buckets = 2L/chunk)")
    ap.add_argument('--ours-match-peers', action='store_true', help='ours without duplicate correction and bucket masking, as the peers')
    ap.add_argument('--resume', action='store_true', help='keep the successful cases of an existing output file')
    ap.add_argument('--report-only', action='store_true', help='rebuild the markdown and plot from the JSON')
    ap.add_argument('--out', default=None, help='output stem (default experiments/results/bench/peers_<device>[_bf16][_quick])')
    ap.add_argument('--plot', default=None, help='plot path (default experiments/plots/<stem name>.png)')
    a = vars(ap.parse_args(argv))
    out, plot, report_only = a.pop('out'), a.pop('plot'), a.pop('report_only')
    stem = Path(out) if out else peers_stem(RESULTS, a['device'], a['dtype'], a['quick'])
    plot = Path(plot) if plot else PLOTS / f'{stem.name}.png'
    if not report_only: run_peers(stem, **a, command=' '.join([Path(sys.executable).name] + sys.argv), progress=False)
    print('\n' + write_peers_report(stem, plot))
    print(f"wrote {stem}.json, {stem}.md and {plot}")


if __name__ == '__main__': main()
