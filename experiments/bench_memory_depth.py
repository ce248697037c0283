#!/usr/bin/env python
"""Peak memory and time of one training step vs depth (issue 4 benchmark).

For TransformerLM, ReversibleLM, LSHLM and ReformerLM at n_layers in (1, 2, 4, 8, 12), sequence length 4096,
batch 1, d_model 256 (other settings: the families' defaults), each case runs in a fresh Python process
(`reformer_repro.bench.run_in_subprocess`):

1. build the model and an Adam optimiser and create Adam's state (one step with zero gradients), so that
   parameters and optimiser state are allocated; record the baseline (RSS on CPU, `memory_allocated` on CUDA);
2. run one training step: forward, cross-entropy, backward, `opt.step()`, `zero_grad(set_to_none=True)`;
3. record the peak (RSS high-water mark `ru_maxrss` on CPU, `max_memory_allocated` on CUDA) and the step's wall time
   (on CUDA the default is 3 steps, the peak of the last and the fastest time are reported).

Reported per case (MiB): `total` = peak; `activation_incl_grads` = peak - baseline (everything the step adds on top of
parameters and Adam state, gradients included); `activation` = that minus the gradient bytes (n_params * element
size), i.e. peak - (parameters + gradients + optimiser state): activations and autograd buffers, the part that
reversible layers and chunking are meant to keep flat. Gradients grow with depth for every model (3.1 MiB per layer
at d_model 256) and reversibility does not claim to remove them, so the target is judged on `activation`.

On CPU each case runs with MALLOC_MMAP_THRESHOLD_=131072: glibc then serves every large tensor with its own mmap
and returns it on free. With glibc's default *dynamic* threshold freed tensors stay in the heap arenas, and the RSS
high-water mark grows with the number of (freed) allocations rather than with live memory — it made a reversible
stack look like it grew by ~8 MiB per layer at seq_len 1024, while with a fixed threshold it is flat.

    python experiments/bench_memory_depth.py                      # CPU, writes results/bench/memory_depth_cpu.{json,png}
    python experiments/bench_memory_depth.py --device cuda        # GPU (torch.cuda.max_memory_allocated)
    python experiments/bench_memory_depth.py --layers 1 2 --seq-len 1024 --models ReformerLM   # a quick look
"""
from __future__ import annotations
import argparse, json, os, platform, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))        # run from a checkout without installing
OUT = ROOT / 'experiments' / 'results' / 'bench'
MODELS = ('TransformerLM', 'ReversibleLM', 'LSHLM', 'ReformerLM')
LAYERS = (1, 2, 4, 8, 12)

def train_step_case(model: str, n_layers: int, seq_len: int = 4096, batch: int = 1, d_model: int = 256, n_heads: int = 4,
                    device: str = 'cpu', steps: int = 1, extra: dict | None = None) -> dict:
    "One case, run in a fresh process by `run_in_subprocess`: build, create Adam state, train `steps` steps, report."
    import torch, torch.nn.functional as F
    from reformer_repro.transformer import TransformerLM
    from reformer_repro.bench import rss_mib
    import reformer_repro.reformer as R
    dev = torch.device(device)
    cuda = dev.type == 'cuda'
    torch.manual_seed(0)
    cls = TransformerLM if model == 'TransformerLM' else getattr(R, model)
    m = cls(vocab_sz=256, d_model=d_model, n_heads=n_heads, n_layers=n_layers, max_seq_len=seq_len, **(extra or {})).to(dev).train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-4)
    for p in m.parameters(): p.grad = torch.zeros_like(p)
    opt.step(); opt.zero_grad(set_to_none=True)                   # Adam state (exp_avg, exp_avg_sq) now exists
    x = torch.randint(0, 256, (batch, seq_len + 1), generator=torch.Generator().manual_seed(0)).to(dev)
    out = dict(n_params=sum(p.numel() for p in m.parameters()),
               grad_mib=sum(p.numel() * p.element_size() for p in m.parameters()) / 2**20, setup_rss_mib=rss_mib())
    times = []
    for _ in range(steps):
        if cuda: torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(dev); out['cuda_baseline_mib'] = torch.cuda.memory_allocated(dev) / 2**20
        t0 = time.perf_counter()
        loss = F.cross_entropy(m(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten())
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        if cuda: torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    if cuda: out['cuda_peak_mib'] = torch.cuda.max_memory_allocated(dev) / 2**20
    return dict(out, step_s=min(times), first_step_s=times[0], loss=loss.item())


def run_case(case: dict, timeout: float, threads: int = 0) -> dict:
    "Run one case in a fresh interpreter (`reformer_repro.bench.run_in_subprocess`) and derive the memory figures (MiB)."
    from reformer_repro.bench import run_in_subprocess
    case = dict(case); threads = case.pop('threads', None) or threads    # callers may put the thread count in the case
    cpu = case['device'] == 'cpu'
    r = run_in_subprocess('bench_memory_depth:train_step_case', case, timeout=timeout, threads=threads or None,
                          pythonpath=[Path(__file__).resolve().parent, ROOT],
                          env={'MALLOC_MMAP_THRESHOLD_': '131072'} if cpu else None)
    if 'error' in r: return r
    base, peak = (r['setup_rss_mib'], r['peak_rss_mib']) if cpu else (r['cuda_baseline_mib'], r['cuda_peak_mib'])
    return dict(r, baseline_mib=base, total_mib=peak, activation_incl_grads_mib=peak - base,
                activation_mib=peak - base - r['grad_mib'])


def plot(results: list[dict], path: Path, title: str):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 3, figsize=(15, 4.2))
    for m in dict.fromkeys(r['model'] for r in results):
        rs = sorted((r for r in results if r['model'] == m and 'error' not in r), key=lambda r: r['n_layers'])
        if not rs: continue
        L = [r['n_layers'] for r in rs]
        axs[0].plot(L, [r['activation_mib'] for r in rs], 'o-', label=m)
        axs[1].plot(L, [r['total_mib'] for r in rs], 'o-', label=m)
        axs[2].plot(L, [r['step_s'] for r in rs], 'o-', label=m)
    for ax, t in zip(axs, ('activation memory of a step (MiB)\n(peak - params - grads - Adam state)', 'peak memory (MiB)', 'time per step (s)')):
        ax.set_xlabel('n_layers'); ax.set_title(t, fontsize=10); ax.grid(alpha=.3)
    axs[0].legend()
    fig.suptitle(title, fontsize=10); fig.tight_layout(); fig.savefig(path, dpi=120); plt.close(fig)


def table(results: list[dict]) -> str:
    rows = ['| model | layers | activation MiB | act. + grads MiB | total MiB | step s |', '|---|---:|---:|---:|---:|---:|']
    for r in results:
        if 'error' in r: rows.append(f"| {r['model']} | {r['n_layers']} | error: {r['error'][-80:]!r} | | | |"); continue
        rows.append(f"| {r['model']} | {r['n_layers']} | {r['activation_mib']:.1f} | {r['activation_incl_grads_mib']:.1f} "
                    f"| {r['total_mib']:.1f} | {r['step_s']:.2f} |")
    return '\n'.join(rows)


def ratios(results: list[dict]) -> dict:
    "activation(max layers) / activation(min layers) per model (and including gradients)."
    out = {}
    for m in dict.fromkeys(r['model'] for r in results):
        rs = sorted((r for r in results if r['model'] == m and 'error' not in r), key=lambda r: r['n_layers'])
        if len(rs) >= 2:
            out[m] = dict(layers=(rs[0]['n_layers'], rs[-1]['n_layers']),
                          activation=rs[-1]['activation_mib'] / rs[0]['activation_mib'],
                          activation_incl_grads=rs[-1]['activation_incl_grads_mib'] / rs[0]['activation_incl_grads_mib'])
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--device', default='cpu', help="'cpu' (RSS high-water mark) or 'cuda' (max_memory_allocated)")
    ap.add_argument('--models', nargs='+', default=list(MODELS), choices=MODELS)
    ap.add_argument('--layers', nargs='+', type=int, default=list(LAYERS))
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
    steps = a.steps or (3 if a.device.startswith('cuda') else 1)
    stem = a.out or OUT / f"memory_depth_{a.device.split(':')[0]}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    results, t0 = [], time.time()
    for model in a.models:
        for L in a.layers:
            case = dict(model=model, n_layers=L, seq_len=a.seq_len, batch=a.batch, d_model=a.d_model, n_heads=a.n_heads,
                        device=a.device, steps=steps)
            r = run_case(case, a.timeout, a.threads); results.append(r)
            msg = r.get('error', '')[-300:] if 'error' in r else \
                f"activation {r['activation_mib']:8.1f} MiB  total {r['total_mib']:8.1f} MiB  step {r['step_s']:.2f}s"
            print(f"{model:14s} L={L:2d}  {msg}", flush=True)
    meta = dict(device=a.device, seq_len=a.seq_len, batch=a.batch, d_model=a.d_model, n_heads=a.n_heads, steps=steps,
                threads=a.threads or 'default',
                python=platform.python_version(), machine=platform.machine(), cpu_count=os.cpu_count(),
                wall_s=round(time.time() - t0, 1),
                measure='CPU: ru_maxrss - RSS after building model and Adam state (MALLOC_MMAP_THRESHOLD_=131072); '
                        'CUDA: max_memory_allocated - memory_allocated; activation = that - gradient bytes')
    import torch
    meta['torch'] = torch.__version__
    if a.device.startswith('cuda') and torch.cuda.is_available(): meta['gpu'] = torch.cuda.get_device_name()
    if a.merge and Path(f'{stem}.json').exists():
        done = {(r['model'], r['n_layers']) for r in results}
        old = [r for r in json.load(open(f'{stem}.json'))['results'] if (r['model'], r['n_layers']) not in done]
        order = {m: i for i, m in enumerate(MODELS)}
        results = sorted(old + results, key=lambda r: (order.get(r['model'], 99), r['n_layers']))
    rat = ratios(results)
    json.dump(dict(meta=meta, ratios=rat, results=results), open(f'{stem}.json', 'w'), indent=1)
    plot(results, Path(f'{stem}.png'), f"one training step, seq_len {a.seq_len}, batch {a.batch}, d_model {a.d_model}, {a.device}")
    print(table(results)); print(json.dumps(rat, indent=1)); print(f'wrote {stem}.json/.png')


if __name__ == '__main__': main()
