#!/usr/bin/env python
"""LSH attention speed and memory vs sequence length at a fixed number of tokens per batch (paper Fig. 5, right).

One attention layer (d_model 256, 4 heads, bucket 64 by default), LSH with each --n-hashes and full attention
(PyTorch SDPA, causal), forward and forward+backward; every case runs in its own Python process so that peak
memory is measured per case. The sweep is `reformer_repro.bench.cases.lsh_speed_sweep` (nbs/32_bench_cases.ipynb);
this script parses the command line and writes JSON (all fields of every case) and a PNG next to it.

    python experiments/bench_lsh_speed.py --lengths 1024 2048 4096 8192 16384 --n-hashes 1 2 4 8 \
        --tokens 32768 --device cpu --out experiments/results/bench/lsh_speed_cpu.json
"""
import argparse, json, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # run from a checkout without installing
from reformer_repro.bench.cases import lsh_speed_sweep, plot_lsh_speed, results_table
from reformer_repro.bench.harness import save_bench, bench_meta


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--lengths', type=int, nargs='+', default=[1024, 2048, 4096, 8192, 16384, 32768])
    p.add_argument('--n-hashes', type=int, nargs='+', default=[1, 2, 4, 8])
    p.add_argument('--tokens', type=int, default=32768, help='tokens per batch; batch = tokens // length')
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    p.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16', 'float16'])
    p.add_argument('--modes', nargs='+', default=['fwd', 'fwdbwd'], choices=['fwd', 'fwdbwd'])
    p.add_argument('--d-model', type=int, default=256)
    p.add_argument('--n-heads', type=int, default=4)
    p.add_argument('--bucket-size', type=int, default=64)
    p.add_argument('--no-full', action='store_true', help='skip full attention')
    p.add_argument('--full-max-len', type=int, default=None, help='skip full attention above this length')
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--timeout', type=float, default=900., help='seconds per case')
    p.add_argument('--mem-cap-mib', type=float, default=None, help='CPU only: address space a case may add (else OOM error)')
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--in-process', action='store_true', help='run all cases in this process (fine on CUDA: peak memory '
                   'is reset per case; CPU RSS needs a process per case)')
    p.add_argument('--lsh-kwargs', type=json.loads, default={}, help='JSON of extra LSHSelfAttention arguments, '
                   'e.g. \'{"duplicate_correction": false}\'')
    p.add_argument('--out', default='experiments/results/bench/lsh_speed_cpu.json')
    a = p.parse_args(argv)

    common = dict(d_model=a.d_model, n_heads=a.n_heads, bucket_size=a.bucket_size, **a.lsh_kwargs)
    meta = bench_meta(args=vars(a), command=' '.join(sys.argv))
    res = lsh_speed_sweep(a.lengths, a.n_hashes, tokens=a.tokens, device=a.device, dtype=a.dtype, modes=a.modes,
                          full=not a.no_full, full_max_len=a.full_max_len, timeout=a.timeout, warmup=a.warmup,
                          repeats=a.repeats, mem_limit_mib=a.mem_cap_mib, threads=a.threads, isolate=not a.in_process,
                          progress=False, **common)
    out = save_bench(res, a.out, meta)
    plot_lsh_speed(res, out.with_suffix('.png'),
                   title=f"one attention layer, {a.tokens} tokens/batch, {a.device} {a.dtype}")
    print(f'\nseconds per batch ({a.tokens} tokens)\n' + results_table(res))
    mem = 'cuda_peak_step_mib' if a.device == 'cuda' else 'activation_rss_mib'
    print(f'\n{mem}\n' + results_table(res, mem, '{:.0f}'))
    print(f'\nwrote {out} and {out.with_suffix(".png")}')


if __name__ == '__main__':
    main()
