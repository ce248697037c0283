"""GPU crossover (issue 7): at which sequence length does our LSH LM training step (n_hashes 1, 2, 4) become faster than
the same model with full attention through SDPA? fp32 and bf16 autocast, L = 1K..64K, batch 1, the peer-benchmark shape
(vocab 256, d_model 256, 4 heads, d_ff 1024, 2 layers, bucket 64, no dropout). One process; each case: 2 warm-up steps,
median of 5 (CUDA-synchronised), peak = torch.cuda.max_memory_allocated after a reset. Also checks that our LSH models
train under bf16 autocast (finite loss and gradients, close to fp32). Run: python experiments/bench_gpu_crossover.py --out DIR"""
import argparse, json, time, statistics, platform, sys
from pathlib import Path
import torch, torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reformer_repro.reformer import LSHLM, ReformerLM
from reformer_repro.transformer import TransformerLM

SHAPE = dict(vocab_sz=256, d_model=256, n_heads=4, d_ff=1024, n_layers=2, dropout=0., bucket_size=64, pos_enc='axial')

def build(arm, L):
    if arm == 'full': return TransformerLM(**SHAPE, max_seq_len=L)
    return LSHLM(**SHAPE, max_seq_len=L, n_hashes=int(arm.split('-')[1]))

def step_fn(model, x, dtype):
    def step():
        with torch.autocast('cuda', dtype=torch.bfloat16, enabled=dtype == 'bfloat16'):
            loss = F.cross_entropy(model(x).float().view(-1, 256), x.view(-1))
        loss.backward()
        return loss
    return step

def time_case(arm, L, dtype):
    torch.manual_seed(0)
    model = build(arm, L).cuda(); x = torch.randint(0, 256, (1, L), device='cuda')
    step = step_fn(model, x, dtype)
    for _ in range(2): step(); model.zero_grad(set_to_none=True)
    torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
    ts = []
    for _ in range(5):
        t0 = time.perf_counter(); step(); torch.cuda.synchronize(); ts.append(time.perf_counter() - t0)
        model.zero_grad(set_to_none=True)
    return dict(arm=arm, L=L, dtype=dtype, time_s=statistics.median(ts), peak_mib=(torch.cuda.max_memory_allocated() - base) / 2**20)

def bf16_check():
    out = {}
    for cls in (LSHLM, ReformerLM):
        torch.manual_seed(0)
        m = cls(**SHAPE, max_seq_len=4096, n_hashes=2, lsh_seed=0).cuda(); x = torch.randint(0, 256, (2, 4096), device='cuda')
        grads = {}
        for dt in ('float32', 'bfloat16'):
            for mod in m.modules():
                if hasattr(mod, 'generator') and isinstance(mod.generator, torch.Generator): mod.generator.manual_seed(0)
            m.zero_grad(); loss = step_fn(m, x, dt)()
            g = torch.cat([p.grad.flatten() for p in m.parameters() if p.grad is not None])
            grads[dt] = (loss.item(), g)
        (l32, g32), (l16, g16) = grads['float32'], grads['bfloat16']
        out[cls.__name__] = dict(loss_fp32=l32, loss_bf16=l16, grads_finite=bool(torch.isfinite(g16).all()),
                                 grad_cosine=float(F.cosine_similarity(g32, g16, dim=0)))
    return out

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--out', default='experiments/results/bench')
    ap.add_argument('--lengths', type=int, nargs='+', default=[1024, 2048, 4096, 8192, 16384, 32768, 65536])
    a = ap.parse_args()
    res = dict(meta=dict(gpu=torch.cuda.get_device_name(), torch=torch.__version__, host=platform.platform(),
                         when=time.strftime('%Y-%m-%dT%H:%M:%S'), shape=SHAPE), bf16_check=bf16_check(), cases=[])
    print(json.dumps(res['bf16_check'], indent=1), flush=True)
    for dtype in ('float32', 'bfloat16'):
        for L in a.lengths:
            for arm in ('full', 'lsh-1', 'lsh-2', 'lsh-4'):
                try: r = time_case(arm, L, dtype)
                except torch.cuda.OutOfMemoryError: r = dict(arm=arm, L=L, dtype=dtype, error='out of memory')
                torch.cuda.empty_cache(); res['cases'].append(r); print(r, flush=True)
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    (out / 'gpu_crossover.json').write_text(json.dumps(res, indent=1) + '\n')
    lines = ['# LSH LM vs SDPA full attention on GPU: training-step time (s) | peak MiB', '',
             f"{res['meta']['gpu']}, torch {res['meta']['torch']}, {res['meta']['when']}; `experiments/bench_gpu_crossover.py`. "
             'Batch 1, vocab 256, d_model 256, 4 heads, d_ff 1024, 2 layers, bucket 64; median of 5 steps.', '']
    for dtype in ('float32', 'bfloat16'):
        lines += [f'## {dtype}', '', '| L | full (SDPA) | LSH-1 | LSH-2 | LSH-4 |', '|---:|---:|---:|---:|---:|']
        for L in a.lengths:
            cells = []
            for arm in ('full', 'lsh-1', 'lsh-2', 'lsh-4'):
                r = next(c for c in res['cases'] if c['arm'] == arm and c['L'] == L and c['dtype'] == dtype)
                cells.append(r.get('error') or f"{r['time_s']:.4f} \\| {r['peak_mib']:.0f}")
            lines.append(f'| {L} | ' + ' | '.join(cells) + ' |')
        for arm in ('lsh-1', 'lsh-2', 'lsh-4'):
            faster = [L for L in a.lengths if all(c.get('time_s') for c in res['cases'] if c['L'] == L and c['dtype'] == dtype and c['arm'] in (arm, 'full'))
                      and next(c for c in res['cases'] if c['arm'] == arm and c['L'] == L and c['dtype'] == dtype)['time_s']
                      < next(c for c in res['cases'] if c['arm'] == 'full' and c['L'] == L and c['dtype'] == dtype)['time_s']]
            lines.append(f'\n{arm} faster than full attention from L = {min(faster) if faster else "never (up to " + str(max(a.lengths)) + ")"}'
                         + (f' (at: {faster})' if faster else ''))
        lines.append('')
    (out / 'gpu_crossover.md').write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines))
