#!/usr/bin/env python
"""Peer benchmark (issue 7): one training step and one inference forward of the same causal character LM in
each implementation, at growing sequence length, with time, peak memory and the FLOP bound.

Implementations (`--impls`, all on by default):

  ours-LSHLM        reformer_repro LSHLM: LSH attention, ordinary residual layers, feed-forward unchunked
  ours-ReformerLM   reformer_repro ReformerLM: LSH attention, reversible layers, feed-forward in chunks of 128
  reformer-pytorch  lucidrains' reformer-pytorch ReformerLM (reversible, feed-forward in chunks of 128 positions)
  HF-Reformer       Hugging Face transformers' ReformerModelWithLMHead, LSH layers only (always reversible)
  SDPA-full         reformer_repro TransformerLM: full causal attention through PyTorch's fused SDPA kernel
  naive-full        the same model with the n×n softmax materialised (reformer_repro.attention.naive_attention)
  reformer-pytorch-irrev  reformer-pytorch without reversibility or chunking, as LSHLM (the fastest peer on CPU)

Shape (the issue's): batch 1, vocab 256, d_model 256, 4 heads of 64, d_ff 1024, 2 layers, bucket 64, fp32, no
dropout, untied LM head, axial position embeddings (the same grid in every model), causal, shared-QK LSH with
n_buckets = L/64 in every LSH model. Each case (implementation, L, n_hashes, layers) runs in a fresh Python process
(`reformer_repro.bench.run_in_subprocess`): it builds the model and an Adam optimiser with its state, then times
1 warm-up + 3 repeats of the inference forward (eval mode, no autograd) and then of the training step (forward,
cross-entropy, backward, Adam step) and reports the medians, with glibc's default allocator (what users run).
Memory is measured afterwards in a separate pass of one call per mode, with glibc told to serve every large block by
its own mmap and to give freed memory back at once (mallopt + malloc_trim), so that the resident-set high-water
mark (`VmHWM`, Linux, reset before each mode) follows live tensors; `step_mib` = that peak - the resident set just
before the call (activations and gradients; model and optimiser state excluded), `peak_mib` = the whole process.
(Timing under that allocator setting, as the first version of this script did, charges every allocation its page
faults: up to 1.6x slower steps, most for the implementations that allocate the most.)
On CUDA: torch.cuda.max_memory_allocated minus memory_allocated before the call.

The FLOPs of every step are counted analytically (`reformer_repro.bench.lm_step_flops`, matrix products only, each
implementation with its own attention window) and the machine's fp32 matmul rate is measured in the same run
(2048² torch.mm, before and after the cases); FLOP bound = FLOPs / matmul rate.

A series (implementation, n_hashes, layers) stops early: a longer L is skipped when the extrapolation of the last
measured L (time ∝ L for LSH, L² for full attention; memory ∝ L, L² for naive) exceeds --time-cap or --mem-cap-mib.
Default grid: every implementation at L = 1K, 2K, 4K, 8K, 16K with n_hashes 4 and 2 layers; at 4K with 6 layers; the
LSH models at n_hashes 1, 2, 8 for L = 2K, 4K, 8K — in that order of priority, since no case starts after
--budget-min (25) minutes (those left are marked and `--resume` runs them later).

The peers need transformers < 5 (the last with Reformer), which conflicts with the main environment's pins, so all
cases run in the bench environment (same torch for everything):

    make bench-env                                      # .venv-bench: torch 2.13 CPU, reformer-pytorch, transformers 4.x
    make bench                                          # = .venv-bench/bin/python experiments/bench_peers.py
    .venv-bench/bin/python experiments/bench_peers.py --quick --threads 1        # < 2 min check
    .venv-bench/bin/python experiments/bench_peers.py --report-only               # rebuild .md and plots from the JSON
    .venv-bench/bin/python experiments/bench_peers.py --lengths 4096 --n-hashes 4 --layers 2 --impls ours-ReformerLM HF-Reformer
    python experiments/bench_peers.py --device cuda --dtype bfloat16 --lengths 4096 16384 65536   # GPU (autocast bf16)

Writes experiments/results/bench/peers_<device>[_bf16][_quick].{json,md} and experiments/plots/peers_<...>.png.
"""
from __future__ import annotations
import argparse, importlib, importlib.util, json, math, os, platform, statistics, sys, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))        # run from a checkout without installing
RESULTS, PLOTS = ROOT / 'experiments' / 'results' / 'bench', ROOT / 'experiments' / 'plots'

SHAPE = dict(batch=1, vocab=256, d_model=256, n_heads=4, d_ff=1024, bucket_size=64)
FF_CHUNK = 128          # positions per feed-forward chunk in the reversible (Reformer) models
IMPLS = {   # name: (attention family, reversible, needs, label for tables)
    'ours-LSHLM': ('lsh', False, None),
    'ours-ReformerLM': ('lsh', True, None),
    'reformer-pytorch': ('lsh', True, 'reformer_pytorch'),
    'HF-Reformer': ('lsh', True, 'transformers'),
    'SDPA-full': ('full', False, None),
    'naive-full': ('full', False, None),
    'reformer-pytorch-irrev': ('lsh', False, 'reformer_pytorch'),
}
DEFAULT_IMPLS = list(IMPLS)
OURS = ('ours-LSHLM', 'ours-ReformerLM')
PEERS = ('reformer-pytorch', 'HF-Reformer', 'reformer-pytorch-irrev')
INSTALL_HINT = {'reformer_pytorch': 'reformer-pytorch==1.4.4', 'transformers': "'transformers>=4.40,<5'"}

MISMATCHES = [
    "reformer-pytorch ties its LSH chunk to its bucket size: bucket_size=64 gives n_buckets = L/64 like the others but "
    "chunks of 64 queries attending 64 + 64 keys, where ours and HF use chunks of 128 (the paper's/trax's "
    "n_buckets = 2L/chunk) attending 128 + 128 keys, so reformer-pytorch computes half the attention products "
    "(counted as such in its FLOPs). `--rp-bucket-size 128` gives the 256-key window instead, with half the buckets.",
    "Duplicate-attention correction and masking of keys from other buckets: ours does both by default (what our "
    "experiments train with); reformer-pytorch (allow_duplicate_attention=True, attend_across_buckets=True, its "
    "defaults) and HF (no option) do neither. `--ours-match-peers` turns both off in ours.",
    "HF concatenates the two reversible streams (2·d_model = 512) for its final LayerNorm and LM head, where ours and "
    "reformer-pytorch average them (d_model): HF's head has twice the weights and FLOPs (a few % of the step).",
    "Axial position embeddings: ours and reformer-pytorch sum two d_model-wide axial tables (the same "
    "axial-positional-embedding package), HF concatenates two 128-wide ones; the grid is the same.",
    "Biases: ours has bias in the output projection and feed-forward, none in Q/K/V; reformer-pytorch likewise; HF has "
    "no bias in its attention output projection and an LM-head bias. LayerNorm eps differs (HF 1e-12). None of this "
    "changes the work measurably.",
    "LSH rotations: ours draws one random rotation per head and round; reformer-pytorch one per round shared by all "
    "heads; HF one per head and round. Ours and HF re-use the forward pass's buckets in the reversible backward, as "
    "does reformer-pytorch (its bucket cache).",
    "Full-attention FLOPs: SDPA-full is counted with the causal half of the score matrix (the fused kernel skips "
    "masked blocks), naive-full with all of it (it computes all of it).",
]


# ----------------------------------------------------------------------------------------------------------------
# one case, in a fresh process

def default_axial_shape(L: int) -> tuple[int, int]:
    from reformer_repro.layers import default_axial_shape as f
    return tuple(f(L))

def impl_config(impl: str, seq_len: int, n_hashes: int, n_layers: int, rp_bucket_size: int = 64, hf_chunk: int = 128,
                ours_match_peers: bool = False) -> dict:
    "What each implementation computes (for the FLOP count and the record): window, buckets, reversibility, head."
    fam, rev, _ = IMPLS[impl]
    s = SHAPE
    cfg = dict(attn=fam, reversible=rev, n_layers=n_layers, head_in=s['d_model'], axial_shape=default_axial_shape(seq_len))
    if fam == 'lsh':
        chunk = 2 * s['bucket_size']
        n_buckets = seq_len // s['bucket_size']
        if impl.startswith('reformer-pytorch'): chunk, n_buckets = rp_bucket_size, seq_len // rp_bucket_size
        if impl == 'HF-Reformer': chunk = hf_chunk
        cfg.update(n_hashes=n_hashes, chunk_len=chunk, n_buckets=n_buckets, keys_per_query=2 * chunk,
                   ff_chunk=FF_CHUNK if rev else None)
        if impl in OURS:
            cfg.update(duplicate_correction=not ours_match_peers, mask_within_bucket=not ours_match_peers)
        else: cfg.update(duplicate_correction=False, mask_within_bucket=False)
    else:
        cfg.update(n_hashes=None, causal_skip=impl == 'SDPA-full', materialised_scores=impl == 'naive-full')
    if impl == 'HF-Reformer': cfg['head_in'] = 2 * s['d_model']
    return cfg

def step_flops(impl: str, seq_len: int, mode: str, cfg: dict) -> dict:
    from reformer_repro.bench import lm_step_flops
    s = SHAPE
    kw = dict(batch=s['batch'], d_model=s['d_model'], n_heads=s['n_heads'], d_ff=s['d_ff'], n_layers=cfg['n_layers'],
              vocab=s['vocab'], attn=cfg['attn'], reversible=cfg['reversible'], mode=mode, head_in=cfg['head_in'])
    if cfg['attn'] == 'lsh':
        kw.update(n_hashes=cfg['n_hashes'], chunk_len=cfg['chunk_len'], n_buckets=cfg['n_buckets'], bucket_size=s['bucket_size'])
    else: kw.update(causal_skip=cfg['causal_skip'])
    return lm_step_flops(seq_len, **kw)

def _naive_mha_forward(self, x, context=None, key_padding_mask=None, cache=None):
    "MultiHeadAttention.forward with the scores materialised: softmax(QKᵀ/√d + causal bias) V."
    from reformer_repro.attention import naive_attention
    from einops import rearrange
    q, k, v = (self.split_heads(p(x)) for p in (self.to_q, self.to_k, self.to_v))
    return self.to_out(rearrange(naive_attention(q, k, v, causal=True), 'b h n d -> b n (h d)'))

def build_model(impl: str, seq_len: int, n_hashes: int, n_layers: int, cfg: dict):
    "(model, forward: tokens (b, n) -> logits (b, n, vocab)) for one implementation, in the benchmark's shape."
    import torch
    s = SHAPE
    axial = cfg['axial_shape']
    if impl in OURS or impl in ('SDPA-full', 'naive-full'):
        from reformer_repro.reformer import LSHLM, ReformerLM
        from reformer_repro.transformer import TransformerLM
        kw = dict(vocab_sz=s['vocab'], d_model=s['d_model'], n_heads=s['n_heads'], d_ff=s['d_ff'], n_layers=n_layers,
                  max_seq_len=seq_len, dropout=0., attn_dropout=0., pos_enc='axial', axial_shape=axial, tie_weights=False)
        if impl in OURS:
            kw.update(bucket_size=s['bucket_size'], n_hashes=n_hashes, duplicate_correction=cfg['duplicate_correction'],
                      mask_within_bucket=cfg['mask_within_bucket'])
            model = (LSHLM if impl == 'ours-LSHLM' else ReformerLM)(**kw)
            if impl == 'ours-ReformerLM': assert model.cfg.reversible and model.cfg.ff_chunk_size == FF_CHUNK
            else: assert not model.cfg.reversible and model.cfg.ff_chunk_size is None
        else:
            model = TransformerLM(**kw)
            if impl == 'naive-full':
                import types
                from reformer_repro.attention import MultiHeadAttention
                for m in model.modules():
                    if isinstance(m, MultiHeadAttention): m.forward = types.MethodType(_naive_mha_forward, m)
        return model, model
    if impl.startswith('reformer-pytorch'):
        from reformer_pytorch import ReformerLM as RPReformerLM
        rev = impl == 'reformer-pytorch'
        model = RPReformerLM(num_tokens=s['vocab'], dim=s['d_model'], depth=n_layers, max_seq_len=seq_len,
                             heads=s['n_heads'], dim_head=s['d_model'] // s['n_heads'], bucket_size=cfg['chunk_len'],
                             n_hashes=n_hashes, causal=True, ff_mult=s['d_ff'] // s['d_model'],
                             ff_chunks=max(1, seq_len // FF_CHUNK) if rev else 1, attn_chunks=1,
                             lsh_dropout=0., ff_dropout=0., post_attn_dropout=0., layer_dropout=0.,
                             axial_position_emb=True, axial_position_shape=axial,
                             reverse_thres=0 if rev else 10 ** 9)     # reversible above reverse_thres tokens
        return model, model
    if impl == 'HF-Reformer':
        from transformers import ReformerConfig, ReformerModelWithLMHead
        from transformers.utils import logging as hf_logging
        hf_logging.set_verbosity_error()
        hc = ReformerConfig(attn_layers=['lsh'] * n_layers, hidden_size=s['d_model'], num_attention_heads=s['n_heads'],
                            attention_head_size=s['d_model'] // s['n_heads'], feed_forward_size=s['d_ff'],
                            hidden_act='gelu', vocab_size=s['vocab'], is_decoder=True, num_hashes=n_hashes,
                            lsh_attn_chunk_length=cfg['chunk_len'], num_buckets=cfg['n_buckets'],
                            lsh_num_chunks_before=1, lsh_num_chunks_after=0, max_position_embeddings=seq_len,
                            axial_pos_embds=True, axial_pos_shape=list(axial),
                            axial_pos_embds_dim=[s['d_model'] // 2, s['d_model'] // 2], hidden_dropout_prob=0.,
                            lsh_attention_probs_dropout_prob=0., local_attention_probs_dropout_prob=0.,
                            chunk_size_feed_forward=FF_CHUNK, chunk_size_lm_head=0, tie_word_embeddings=False,
                            use_cache=False, pad_token_id=None, eos_token_id=None)
        model = ReformerModelWithLMHead(hc)
        return model, lambda x: model(input_ids=x, use_cache=False).logits
    raise ValueError(f'unknown implementation {impl!r}; choose from {list(IMPLS)}')

def peer_case(impl: str, seq_len: int, n_hashes: int = 4, n_layers: int = 2, modes=('infer', 'train'),
              device: str = 'cpu', dtype: str = 'float32', warmup: int = 1, repeats: int = 3, optimizer: str = 'adam',
              seed: int = 0, rp_bucket_size: int = 64, hf_chunk: int = 128, ours_match_peers: bool = False) -> dict:
    "Build one implementation's LM and time/measure each mode; run in a fresh process by `run_in_subprocess`."
    import torch, torch.nn.functional as F
    from reformer_repro.bench import time_fn, rss_mib, peak_rss_mib, reset_peak_rss
    dev = torch.device(device)
    cuda = dev.type == 'cuda'
    imported = rss_mib()
    cfg = impl_config(impl, seq_len, n_hashes, n_layers, rp_bucket_size, hf_chunk, ours_match_peers)
    torch.manual_seed(seed)
    model, fwd = build_model(impl, seq_len, n_hashes, n_layers, cfg)
    model = model.to(dev).train()
    n_params = sum(p.numel() for p in model.parameters())
    opt = None
    if optimizer != 'none':
        opt = (torch.optim.Adam if optimizer == 'adam' else torch.optim.SGD)(model.parameters(), lr=1e-4)
        for p in model.parameters(): p.grad = torch.zeros_like(p)
        opt.step(); opt.zero_grad(set_to_none=True)               # optimiser state exists before we measure
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, SHAPE['vocab'], (SHAPE['batch'], seq_len), generator=g).to(dev)
    y = torch.randint(0, SHAPE['vocab'], (SHAPE['batch'], seq_len), generator=g).to(dev)
    amp = dtype != 'float32'
    amp_dtype = getattr(torch, dtype)
    losses = []

    def infer():
        with torch.no_grad(), torch.autocast(dev.type, dtype=amp_dtype, enabled=amp): fwd(x)

    def train():
        with torch.autocast(dev.type, dtype=amp_dtype, enabled=amp): logits = fwd(x)
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        loss.backward()
        if opt is not None: opt.step()
        model.zero_grad(set_to_none=True)
        losses.append(loss.item())

    if cuda: torch.cuda.synchronize(dev)
    setup = torch.cuda.memory_allocated(dev) / 2**20 if cuda else rss_mib()
    out = dict(impl=impl, n_params=n_params, imported_rss_mib=imported, setup_mib=setup, config=cfg,
               threads=torch.get_num_threads(), torch=torch.__version__, modes={})
    step = {'infer': infer, 'train': train}
    # time with the allocator users get, then measure memory in a separate pass (see the module docstring)
    for mode in modes:
        model.train(mode == 'train')
        t, times = time_fn(step[mode], warmup, repeats, return_times=True,
                           sync=(lambda: torch.cuda.synchronize(dev)) if cuda else None)
        r = dict(time_s=t, times_s=times, malloc='default')
        if mode == 'train': r['loss'] = losses[-1]; r['loss_finite'] = all(math.isfinite(v) for v in losses)
        if hasattr(os, 'getloadavg'): r['loadavg_1min'] = os.getloadavg()[0]
        out['modes'][mode] = r
    for mode in modes:
        model.train(mode == 'train')
        tight = cuda or release_freed_memory()           # again before each mode: what the last one freed goes back
        if cuda:
            torch.cuda.synchronize(dev); torch.cuda.reset_peak_memory_stats(dev)
            base = torch.cuda.memory_allocated(dev) / 2**20
        else: base, reset = rss_mib(), reset_peak_rss()
        step[mode]()
        if cuda: torch.cuda.synchronize(dev); peak = torch.cuda.max_memory_allocated(dev) / 2**20
        else:
            peak = peak_rss_mib() if reset else None
            if peak is None:                              # no VmHWM reset here: the process's high-water mark so far
                import resource
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out['modes'][mode].update(peak_mib=peak, step_mib=peak - base, base_mib=base,
                                  peak_method='cuda_max_allocated' if cuda else ('VmHWM' if reset else 'ru_maxrss (not reset)')
                                  + ('' if tight else ', allocator caching'))
    model.train()
    return out

def release_freed_memory() -> bool:
    """glibc only (Linux): serve every block >= 128 KiB with its own mmap and return freed memory to the system at
    once from now on, and give back what is free now (malloc_trim), so that RSS tracks live memory. False elsewhere."""
    import ctypes, ctypes.util
    try: libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    except OSError: return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    if not hasattr(libc, 'mallopt'): return False
    ok = libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024) and libc.mallopt(M_TRIM_THRESHOLD, 128 * 1024)
    libc.malloc_trim(0)
    return bool(ok)

def matmul_case(n: int = 2048, repeats: int = 5, device: str = 'cpu', dtype: str = 'float32') -> dict:
    from reformer_repro.bench import matmul_gflops
    return matmul_gflops(n, repeats=repeats, device=device, dtype=dtype)


def attention_kernel_case(seq_len: int = 4096, n_hashes: int = 4, repeats: int = 5, warmup: int = 2) -> dict:
    """GFLOP/s of PyTorch's fused CPU flash-attention kernels (forward; forward + backward) on the tiles of one LSH
    layer in the benchmark's shape: batch·heads·n_hashes·(L/128) chunks of 128 queries against 256 keys, d 64, with
    a float mask. The FLOP bound charges attention at the matmul rate; this is the rate the best kernel at hand
    reaches on that work (ours calls these kernels)."""
    import torch
    from reformer_repro.bench import time_fn
    s = SHAPE
    m, d = 2 * s['bucket_size'], s['d_model'] // s['n_heads']
    G, C = s['batch'] * s['n_heads'] * n_hashes, seq_len // m
    g = torch.Generator().manual_seed(0)
    q = torch.randn(G, C, m, d, generator=g) / math.sqrt(d)
    k, v = torch.randn(G, C, 2 * m, d, generator=g), torch.randn(G, C, 2 * m, d, generator=g)
    mask = torch.zeros(G, C, m, 2 * m).masked_fill_(torch.rand(G, C, m, 2 * m, generator=g) < 0.8, -1e9)
    mask[..., 0] = 0                                          # every query keeps a key
    fwd = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu.default
    bwd = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward.default
    o, lse = fwd(q, k, v, 0., False, attn_mask=mask, scale=1.0)
    do = torch.randn(o.shape, generator=g)
    t_f = time_fn(lambda: fwd(q, k, v, 0., False, attn_mask=mask, scale=1.0), warmup, repeats)
    t_b = time_fn(lambda: bwd(do, q, k, v, o, lse, 0., False, attn_mask=mask, scale=1.0), warmup, repeats)
    flops = 4 * G * C * m * 2 * m * d                       # QKᵀ and PV of one forward, as lm_step_flops counts them
    return dict(seq_len=seq_len, n_hashes=n_hashes, tiles=[G * C, m, 2 * m, d], fwd_s=t_f, bwd_s=t_b,
                infer_gflops=flops / t_f / 1e9, train_gflops=3 * flops / (t_f + t_b) / 1e9, threads=torch.get_num_threads())


# ----------------------------------------------------------------------------------------------------------------
# the grid and the runner

def default_grid(impls, quick: bool = False) -> list[tuple]:
    "(impl, L, n_hashes, layers) cases; full-attention models ignore n_hashes (None)."
    lsh = [i for i in impls if IMPLS[i][0] == 'lsh']
    full = [i for i in impls if IMPLS[i][0] == 'full']
    cases = []
    def add(imps, Ls, Rs, layers):
        for i in imps:
            for R in (Rs if i in lsh else [None]):
                for n in layers:
                    for L in Ls: cases.append((i, L, R, n))
    if quick:
        add(impls, [256, 512], [2], [2])
    else:
        add(impls, [1024, 2048, 4096, 8192, 16384], [4], [2])
        add(lsh, [1024, 2048, 4096, 8192], [1, 2, 8], [2])
        add(impls, [4096], [4], [6])
    return list(dict.fromkeys(cases))

def custom_grid(impls, lengths, n_hashes, layers) -> list[tuple]:
    cases = [(i, L, (R if IMPLS[i][0] == 'lsh' else None), n) for i in impls for R in n_hashes for n in layers for L in lengths]
    return list(dict.fromkeys(cases))

def _series(case): return case[0], case[2], case[3]

def order_cases(cases: list[tuple]) -> list[tuple]:
    """The main comparison (n_hashes 4, 2 layers) first, then other depths, then the n_hashes sweep; within each by
    length, so that every series runs in ascending L (which the skips need), all implementations are measured close
    together in time at each length, and a run cut short by --budget-min loses the least important cases."""
    order = {i: k for k, i in enumerate(IMPLS)}
    Rs = sorted({c[2] for c in cases if c[2]})
    main_R = 4 if 4 in Rs or not Rs else Rs[0]
    main_n = 2 if any(c[3] == 2 for c in cases) else min(c[3] for c in cases)
    return sorted(cases, key=lambda c: (c[2] not in (main_R, None), c[3] != main_n, c[1], c[3], c[2] or 0, order[c[0]]))

def _growth(impl: str) -> tuple[float, float]:
    "Exponents of the extrapolation in L: (time, memory)."
    if impl == 'naive-full': return 2., 2.
    if impl == 'SDPA-full': return 2., 1.
    return 1., 1.

def _fmt_case(c) -> str:
    i, L, R, n = c
    return f"{i:22s} L={L:6d} " + (f"R={R} " if R else "    ") + f"layers={n}"

def records_from(res: dict, case: tuple, common: dict, rate: float | None) -> list[dict]:
    "One JSON record per mode of a case result (or one error/skip record)."
    impl, L, R, n = case
    base = dict(impl=impl, seq_len=L, n_hashes=R, n_layers=n, **common)
    if 'error' in res or 'modes' not in res:
        extra = {k: res[k] for k in ('traceback', 'returncode') if k in res}
        return [dict(base, mode=m, error=res.get('error', 'no result'), skipped=res.get('skipped', False),
                     oom=res.get('oom', False), timeout=res.get('timeout', False), **extra) for m in common['modes_run']]
    out = []
    for m, r in res['modes'].items():
        rec = dict(base, mode=m, **r, n_params=res['n_params'], setup_mib=res['setup_mib'],
                   imported_rss_mib=res.get('imported_rss_mib'), config=res['config'], threads=res['threads'],
                   process_wall_s=res.get('wall_s'))
        fl = step_flops(impl, L, m, res['config'])
        rec['flops'] = fl
        rec['gflops_achieved'] = fl['total'] / r['time_s'] / 1e9
        if rate:
            rec['flop_bound_s'] = fl['total'] / (rate * 1e9)
            rec['time_over_bound'] = r['time_s'] / rec['flop_bound_s']
        out.append(rec)
    return out

def run(a) -> tuple[dict, list[dict]]:
    from reformer_repro.bench import run_in_subprocess, bench_meta
    impls = a.impls
    missing = {}
    for i in impls:
        need = IMPLS[i][2]
        if need and not _available(need): missing[i] = need
    if a.lengths or a.n_hashes or a.layers:
        cases = custom_grid(impls, a.lengths or [1024, 2048, 4096, 8192, 16384], a.n_hashes or [4], a.layers or [2])
    else: cases = default_grid(impls, a.quick)
    cases = order_cases(cases)
    modes = ['infer', 'train'] if a.modes == 'both' else [a.modes]
    env = {'OMP_NUM_THREADS': str(a.threads), 'MKL_NUM_THREADS': str(a.threads)}
    sub = lambda fn, kw, timeout: run_in_subprocess(f'bench_peers:{fn}', kw, timeout=timeout, threads=a.threads,
                                                     mem_limit_mib=a.mem_limit_mib if a.device == 'cpu' else None,
                                                     pythonpath=[HERE, ROOT], env=env)
    stem = out_stem(a)
    mm_kw = dict(device=a.device, dtype=a.dtype if a.device != 'cpu' else 'float32', n=2048 if a.device == 'cpu' else 8192)
    prev = {}
    if a.resume and Path(f'{stem}.json').exists():
        old = json.loads(Path(f'{stem}.json').read_text())
        for r in old['results']:
            if 'error' not in r: prev.setdefault((r['impl'], r['seq_len'], r['n_hashes'], r['n_layers']), []).append(r)
    rates = []
    t0 = time.time()
    print(f"{len(cases)} cases ({len(set(map(_series, cases)))} series), modes {modes}, {a.threads} threads, "
          f"device {a.device} {a.dtype}, python {sys.executable}", flush=True)
    mm = sub('matmul_case', mm_kw, 300)
    rates.append(mm)
    print(f"matmul rate ({mm_kw['n']}², {mm_kw['dtype']}, {a.threads} threads): {mm.get('gflops', float('nan')):.1f} GFLOP/s", flush=True)
    rate = mm.get('gflops')
    kern = sub('attention_kernel_case', {}, 300) if a.device == 'cpu' and not a.quick else None
    if kern and 'train_gflops' in kern:
        print(f"fused attention kernel on LSH tiles: {kern['infer_gflops']:.1f} GFLOP/s forward, "
              f"{kern['train_gflops']:.1f} forward + backward", flush=True)
    meta = bench_meta(args={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()},
                      command=' '.join([Path(sys.executable).name] + sys.argv), shape=SHAPE, ff_chunk=FF_CHUNK,
                      versions=_versions(), unavailable=missing, mismatches=MISMATCHES, threads=a.threads,
                      cpu_capability=_cpu_capability(), attention_kernel=kern)
    results, last = [], {}
    common = dict(device=a.device, dtype=a.dtype, warmup=a.warmup, repeats=a.repeats, optimizer=a.optimizer,
                  modes_run=modes, ours_match_peers=a.ours_match_peers)
    for k, case in enumerate(cases):
        impl, L, R, n = case
        ser = _series(case)
        if impl in missing:
            res = dict(error=f'unavailable: pip install {INSTALL_HINT[missing[impl]]} (use make bench-env)', skipped=True)
        elif a.budget_min and time.time() - t0 > 60 * a.budget_min and case not in prev:
            res = dict(error=f'skipped: time budget (--budget-min {a.budget_min:g}) spent; --resume runs it', skipped=True,
                       budget=True)
        elif case in prev:
            results += prev[case]; last[ser] = (L, {r['mode']: r for r in prev[case]})
            print(f"[{k + 1}/{len(cases)}] {_fmt_case(case)}  (kept from the previous run)", flush=True); continue
        elif ser in last and last[ser] is None:
            res = dict(error='skipped: a shorter length of this series failed or was skipped', skipped=True)
        else:
            res = None
            if ser in last:
                L0, prev_modes = last[ser]
                et, em = _growth(impl)
                t_pred = max(r['time_s'] for r in prev_modes.values()) * (L / L0) ** et
                m_pred = max(r['peak_mib'] for r in prev_modes.values()) * (L / L0) ** em
                if t_pred > a.time_cap:
                    res = dict(error=f'skipped: too slow (predicted {t_pred:.0f} s per step > --time-cap {a.time_cap:g})', skipped=True)
                elif m_pred > a.mem_cap_mib:
                    res = dict(error=f'skipped: too much memory (predicted {m_pred:.0f} MiB > --mem-cap-mib {a.mem_cap_mib:g})', skipped=True)
            if res is None:
                kw = dict(impl=impl, seq_len=L, n_hashes=R or 1, n_layers=n, modes=modes, device=a.device, dtype=a.dtype,
                          warmup=a.warmup, repeats=a.repeats, optimizer=a.optimizer, rp_bucket_size=a.rp_bucket_size,
                          hf_chunk=a.hf_chunk, ours_match_peers=a.ours_match_peers)
                res = sub('peer_case', kw, a.timeout)
        recs = records_from(res, case, common, rate)
        results += recs
        if res.get('budget'): pass
        elif 'error' in res: last[ser] = None
        else: last[ser] = (L, {r['mode']: r for r in recs})
        el = time.time() - t0
        if 'error' in res: msg = res['error'].splitlines()[0][:150] if res.get('skipped') else 'FAILED ' + res['error'][-300:]
        else: msg = '  '.join(f"{r['mode']} {r['time_s']:7.3f}s {r['step_mib']:7.0f} MiB" for r in recs)
        print(f"[{k + 1}/{len(cases)} {el / 60:5.1f} min] {_fmt_case(case)}  {msg}", flush=True)
        meta['matmul'] = rates; meta['matmul_gflops'] = rate; meta['wall_s'] = round(el, 1)
        save(stem, meta, results)
    mm = sub('matmul_case', mm_kw, 300)
    rates.append(mm)
    ok = [r['gflops'] for r in rates if 'gflops' in r]
    meta['matmul'] = rates
    meta['matmul_gflops'] = max(ok) if ok else None        # the bound uses the better of the two measurements
    print(f"matmul rate at the end: {mm.get('gflops', float('nan')):.1f} GFLOP/s", flush=True)
    for r in results:                                        # bound with the final rate
        if 'flops' in r and meta['matmul_gflops']:
            r['flop_bound_s'] = r['flops']['total'] / (meta['matmul_gflops'] * 1e9)
            r['time_over_bound'] = r['time_s'] / r['flop_bound_s']
    meta['wall_s'] = round(time.time() - t0, 1)
    save(stem, meta, results)
    return meta, results

def _cpu_capability() -> str | None:
    "The widest vector ISA torch's CPU kernels use here ('AVX512', 'AVX2', ...): it sets the matmul rate."
    import torch
    try: return torch.backends.cpu.get_cpu_capability()
    except Exception: return None

def _available(module: str) -> bool:
    "Whether a peer package is importable here (transformers: only before 5.0, which dropped Reformer)."
    if importlib.util.find_spec(module) is None: return False
    if module == 'transformers':
        import importlib.metadata as md
        return int(md.version('transformers').split('.')[0]) < 5
    return True

def _versions() -> dict:
    import importlib.metadata as md
    out = {}
    for p in ('torch', 'reformer-pytorch', 'transformers', 'axial-positional-embedding', 'einops', 'reformer_repro'):
        try: out[p] = md.version(p)
        except md.PackageNotFoundError: out[p] = None
    return out

def out_stem(a) -> Path:
    if a.out: return Path(a.out)
    name = f"peers_{a.device.split(':')[0]}" + ('_bf16' if a.dtype == 'bfloat16' else '') + ('_quick' if a.quick else '')
    return RESULTS / name

def save(stem: Path, meta: dict, results: list[dict]):
    stem.parent.mkdir(parents=True, exist_ok=True)
    Path(f'{stem}.json').write_text(json.dumps(dict(meta=meta, results=results), indent=1, default=str))


# ----------------------------------------------------------------------------------------------------------------
# report: markdown tables and plots from the JSON

def _ok(r): return 'error' not in r and r.get('time_s') is not None

def _kL(L): return f'{L // 1024}K' if L >= 1024 and L % 1024 == 0 else str(L)

def _impls_in(results): return [i for i in IMPLS if any(r['impl'] == i for r in results)]

def _cell(results, impl, L, R, n, mode):
    for r in results:
        if r['impl'] == impl and r['seq_len'] == L and r['n_layers'] == n and r['mode'] == mode and \
                (r['n_hashes'] == R or IMPLS[impl][0] == 'full'):
            return r
    return None

def _val(r, key, fmt):
    if r is None: return ''
    if not _ok(r):
        e = r.get('error', '')
        for key, word in (('too slow', 'too slow'), ('too much memory', 'too much memory'), ('time budget', 'not run (budget)'),
                          ('unavailable', 'not installed'), ('skipped', 'skipped')):
            if e.startswith(('skipped', 'unavailable')) and key in e: return word
        return 'OOM' if r.get('oom') else ('timeout' if r.get('timeout') else 'failed')
    return fmt.format(r[key])

def _time_mem(r) -> str:
    "Table cell: 'seconds | step MiB', the reason a case has no numbers, or empty when it was not in the grid."
    return '' if r is None else (f"{r['time_s']:.3f} \\| {r['step_mib']:.0f}" if _ok(r) else _val(r, 'time_s', ''))

def _faster_peer(results, L, R, n, mode, peers):
    best = None
    for p in peers:
        r = _cell(results, p, L, R, n, mode)
        if r is not None and _ok(r) and (best is None or r['time_s'] < best['time_s']): best = r
    return best

TARGET_SPEEDUP, TARGET_BOUND = 2.0, 1.5      # issue 7: >= 2x the fastest peer (L >= 2K, n_hashes 2-8); <= 1.5x the FLOP bound (L >= 4K)

def _non_attention_s(r, rate) -> float:
    "Seconds the step's projections, feed-forward, hashing and head need at the matmul rate: attention excluded."
    f = r['flops']
    return (f['total'] - f['attention']) / (rate * 1e9)

def _kernel_bound_s(r, rate, kern) -> float | None:
    "The FLOP bound with attention at the fused attention kernel's measured rate instead of the matmul rate."
    kr = kern.get('train_gflops' if r['mode'] == 'train' else 'infer_gflops')
    if not kr or r['impl'] not in OURS: return None
    return _non_attention_s(r, rate) + r['flops']['attention'] / (kr * 1e9)

def targets_md(meta: dict, results: list[dict], n_layers: int = 2, main_R: int = 4) -> list[str]:
    """The issue's targets, case by case, from these results: met or not, and the measured reason when not
    (`main_R`: the n_hashes of the FLOP-bound table, as in the main tables)."""
    rate, kern = meta.get('matmul_gflops'), meta.get('attention_kernel') or {}
    impls = _impls_in(results)
    peers = [p for p in PEERS if p in impls]
    if 'ours-LSHLM' not in impls or not peers or not rate: return []
    Rs = [R for R in (2, 4, 8) if any(r['n_hashes'] == R for r in results)]
    Ls = sorted({r['seq_len'] for r in results if r['seq_len'] >= 2048 and r['n_hashes'] in Rs and r['n_layers'] == n_layers})
    modes = [m for m in ('train', 'infer') if any(r['mode'] == m for r in results)]
    out = ['## Targets (issue 7)', '',
           f"**Speed and memory vs the peers.** Target: ours-LSHLM ≥ {TARGET_SPEEDUP:g}× faster than the fastest peer at every "
           f"L ≥ 2K for n_hashes 2–8 with no more step memory ({n_layers} layers). *2× needs* = the fastest peer's time / 2; "
           "*floor* = the time the step's matrix products other than attention (projections, feed-forward, hashing, head — "
           "the same in every implementation) take at the measured matmul rate, a lower bound for any implementation: "
           "where the floor exceeds *2× needs*, 2× is out of reach even with attention for free; elsewhere *why not* says "
           "whether the *kernel bound* (below: the FLOP bound with attention at the rate of the fused attention kernels "
           "ours calls, measured in this run) already exceeds *2× needs*, else how far ours is above it, and how much "
           "attention work the peer does (reformer-pytorch: 64-key chunks, half our products). ReformerLM is "
           "compared with the reversible peers.", '']
    for mode in modes:
        rows, met, total = [], 0, 0
        for L in Ls:
            for R in Rs:
                o = _cell(results, 'ours-LSHLM', L, R, n_layers, mode)
                best = _faster_peer(results, L, R, n_layers, mode, peers)
                if o is None or best is None or not _ok(o): continue
                sp, mem = best['time_s'] / o['time_s'], best['step_mib'] / max(o['step_mib'], 1e-9)
                ok = sp >= TARGET_SPEEDUP and mem >= 1
                met, total = met + ok, total + 1
                need, floor = best['time_s'] / TARGET_SPEEDUP, _non_attention_s(o, rate)
                rev = _cell(results, 'ours-ReformerLM', L, R, n_layers, mode)
                bestr = _faster_peer(results, L, R, n_layers, mode, [p for p in peers if IMPLS[p][1]])
                rv = (f"×{bestr['time_s'] / rev['time_s']:.2f} \\| ×{bestr['step_mib'] / max(rev['step_mib'], 1e-9):.2f}"
                      if rev is not None and bestr is not None and _ok(rev) else '')
                att = best['flops']['attention'] / max(o['flops']['attention'], 1.)
                kb = _kernel_bound_s(o, rate, kern)
                why = ('' if ok else 'more memory' if sp >= TARGET_SPEEDUP else
                       'floor > 2× needs' if floor > need else
                       f"kernel bound {kb:.3f} s > 2× needs" if kb and kb > need else
                       f"{o['time_s'] - kb:.3f} s above the kernel bound {kb:.3f} s" if kb else
                       f"2× leaves ≤ {need - floor:.3f} s for attention and the rest")
                if not ok and sp < TARGET_SPEEDUP: why += f"; the peer's attention FLOPs are ×{att:.2f} ours"
                rows.append(f"| {_kL(L)} | {R} | {o['time_s']:.3f} | {best['impl']} {best['time_s']:.3f} | ×{sp:.2f} | ×{mem:.2f} | "
                            f"{'yes' if ok else 'no'} | {need:.3f} | {floor:.3f} | {why} | {rv} |")
        out += [f"{'Training step' if mode == 'train' else 'Inference forward'}: met in {met} of {total} cases.", '',
                '| L | n_hashes | ours-LSHLM s | fastest peer s | speed-up | memory | met | 2× needs s | floor s | why not | '
                'ours-ReformerLM vs reversible peers: speed-up \\| memory |',
                '|---:|---:|---:|---|---:|---:|---|---:|---:|---|---:|'] + rows + ['']
    out += [f"**FLOP bound.** Target: ours within {TARGET_BOUND:g}× of the FLOP bound (FLOPs / matmul rate) at L ≥ 4K."]
    if kern.get('train_gflops'):
        out[-1] += (f" The bound charges attention at the matmul rate ({rate:.0f} GFLOP/s); PyTorch's fused CPU attention "
                    f"kernels, which ours calls, run at {kern['infer_gflops']:.0f} GFLOP/s forward and "
                    f"{kern['train_gflops']:.0f} GFLOP/s forward + backward on this run's LSH tiles "
                    f"({kern['tiles'][0]} × {kern['tiles'][1]}×{kern['tiles'][2]}, d {kern['tiles'][3]}; "
                    "`attention_kernel_case`). *Kernel bound* = the same FLOPs with attention at the kernel's rate: "
                    "what these kernels allow.")
    out += ['', '| L | mode | ' + ' | '.join(i for i in (*OURS, 'SDPA-full') if i in impls) + ' |',
            '|---:|---' + '|---:' * len([i for i in (*OURS, 'SDPA-full') if i in impls]) + '|']
    for L in sorted({r['seq_len'] for r in results if r['seq_len'] >= 4096 and r['n_layers'] == n_layers}):
        for mode in modes:
            cells = []
            for i in (*OURS, 'SDPA-full'):
                if i not in impls: continue
                r = _cell(results, i, L, main_R, n_layers, mode)
                if r is None or not _ok(r) or 'time_over_bound' not in r: cells.append(''); continue
                c = f"×{r['time_over_bound']:.2f} ({'met' if r['time_over_bound'] <= TARGET_BOUND else 'not met'})"
                kb = _kernel_bound_s(r, rate, kern)
                if kb: c += f", kernel bound ×{r['time_s'] / kb:.2f}"
                cells.append(c)
            out.append(f"| {_kL(L)} | {mode} | " + ' | '.join(cells) + ' |')
    if 'SDPA-full' not in impls: return out + ['']
    out += ['', "**Where LSH overtakes full attention (SDPA).** The shortest measured L from which ours-LSHLM is faster "
            "than SDPA-full at every longer measured L:", '']
    for mode in modes:
        parts = []
        for R in (1, 2, 4, 8):
            Lr = sorted({r['seq_len'] for r in results if r['impl'] == 'ours-LSHLM' and r['n_hashes'] == R
                         and r['n_layers'] == n_layers and r['mode'] == mode and _ok(r)})
            pairs = [(L, _cell(results, 'ours-LSHLM', L, R, n_layers, mode), _cell(results, 'SDPA-full', L, R, n_layers, mode))
                     for L in Lr]
            pairs = [(L, o, f) for L, o, f in pairs if f is not None and _ok(f)]
            if not pairs: continue
            cross = None
            for L, o, f in reversed(pairs):
                if o['time_s'] < f['time_s']: cross = L
                else: break
            where = ('not within the measured range' if cross is None else
                     f"{'≤ ' if cross == pairs[0][0] else ''}{_kL(cross)}")
            parts.append(f"n_hashes {R}: {where} (measured {_kL(pairs[0][0])}–{_kL(pairs[-1][0])})")
        if parts: out.append(f"* {'training' if mode == 'train' else 'inference'}: " + '; '.join(parts))
    return out + ['']

def report_md(meta: dict, results: list[dict]) -> str:
    impls = _impls_in(results)
    lines = [f"# Peer benchmark: Reformer implementations, one causal char-LM step ({meta['args']['device']}, {meta['args']['dtype']})", '']
    v = meta.get('versions', {})
    rate = meta.get('matmul_gflops')
    mms = ', '.join(f"{m['gflops']:.1f}" for m in meta.get('matmul', []) if 'gflops' in m)
    mm0 = next((m for m in meta.get('matmul', []) if 'gflops' in m), {})
    lines += [f"Generated by `{meta.get('command', '')}` on {meta.get('date')} — {meta.get('platform')}, {meta.get('cpu_count')} CPUs"
              + (f", {meta['gpu']}" if meta.get('gpu') else '') + f", {meta.get('threads')} torch threads, load average at start "
              f"{', '.join(f'{x:.1f}' for x in meta.get('loadavg_at_start', []))}; torch {v.get('torch')}, reformer-pytorch "
              f"{v.get('reformer-pytorch')}, transformers {v.get('transformers')}; {meta.get('wall_s', 0) / 60:.1f} min.", '',
              f"Shape: batch {SHAPE['batch']}, vocab {SHAPE['vocab']}, d_model {SHAPE['d_model']}, {SHAPE['n_heads']} heads, "
              f"d_ff {SHAPE['d_ff']}, bucket {SHAPE['bucket_size']} (n_buckets = L/64), no dropout, causal, untied head, "
              f"axial positions. Each case is a fresh process: {meta['args']['warmup']} warm-up + {meta['args']['repeats']} timed "
              f"repeats, median. *train* = forward + cross-entropy + backward + {meta['args']['optimizer']} step; *infer* = forward "
              f"in eval mode without autograd. Memory: *step* = peak resident memory of the case process during that mode "
              f"minus the memory after building the model and optimiser state (CUDA: max_memory_allocated minus allocated), "
              f"i.e. activations and gradients; the JSON also has the whole-process peak. Matmul rate ({mm0.get('dtype', 'float32')} "
              f"{mm0.get('n', 2048)}² torch.mm, before and after the cases): {mms} GFLOP/s; the FLOP bound uses "
              f"{rate and round(rate, 1)} GFLOP/s.", '']
    if meta.get('cpu_capability'): lines[-2] += f" CPU vector ISA (torch): {meta['cpu_capability']}."
    if meta.get('note'): lines += [f"Note: {meta['note']}", '']
    if meta.get('unavailable'):
        lines += [f"Not measured (package missing): {', '.join(meta['unavailable'])}.", '']
    main_n = 2 if any(r['n_layers'] == 2 for r in results) else min(r['n_layers'] for r in results)
    Rs = sorted({r['n_hashes'] for r in results if r['n_hashes']})
    main_R = 4 if 4 in Rs else (Rs[0] if Rs else None)
    lines += targets_md(meta, results, main_n, main_R)
    Ls = sorted({r['seq_len'] for r in results if r['n_layers'] == main_n and (r['n_hashes'] in (main_R, None))})
    modes = [m for m in ('train', 'infer') if any(r['mode'] == m for r in results)]
    for mode in modes:
        lines += [f"## {'Training step' if mode == 'train' else 'Inference forward'}: n_hashes {main_R}, {main_n} layers", '',
                  'Seconds (median) | step memory MiB.', '',
                  '| L | ' + ' | '.join(impls) + ' |', '|---:' + '|---:' * len(impls) + '|']
        for L in Ls:
            cells = []
            for i in impls:
                r = _cell(results, i, L, main_R, main_n, mode)
                cells.append(_time_mem(r))
            lines.append(f'| {_kL(L)} | ' + ' | '.join(cells) + ' |')
        lines.append('')
        peers = [p for p in PEERS if p in impls]
        ours = [o for o in OURS if o in impls]
        if peers and ours:
            lines += [f"Speed-up of ours over the faster peer ({' / '.join(peers)}), time and step memory "
                      f"(> 1: ours is faster / smaller). `ours-ReformerLM` is compared with the reversible peers, "
                      f"`ours-LSHLM` with every peer.", '',
                      '| L | ' + ' | '.join(f'{o} time | {o} memory' for o in ours) + ' | faster peer |',
                      '|---:' + '|---:' * (2 * len(ours)) + '|---|']
            for L in Ls:
                cells, names = [], []
                for o in ours:
                    pp = [p for p in peers if o == 'ours-LSHLM' or IMPLS[p][1]]
                    best = _faster_peer(results, L, main_R, main_n, mode, pp)
                    r = _cell(results, o, L, main_R, main_n, mode)
                    if best is None or r is None or not _ok(r): cells += ['', '']; continue
                    cells += [f"×{best['time_s'] / r['time_s']:.2f}", f"×{best['step_mib'] / max(r['step_mib'], 1e-9):.2f}"]
                    names.append(best['impl'])
                lines.append(f'| {_kL(L)} | ' + ' | '.join(cells) + f" | {', '.join(dict.fromkeys(names))} |")
            lines.append('')
        lines += [f"FLOPs (analytic, GFLOP) · achieved GFLOP/s · time / FLOP bound:", '',
                  '| L | ' + ' | '.join(impls) + ' |', '|---:' + '|---:' * len(impls) + '|']
        for L in Ls:
            cells = []
            for i in impls:
                r = _cell(results, i, L, main_R, main_n, mode)
                cells.append(f"{r['flops']['total'] / 1e9:.1f} · {r['gflops_achieved']:.1f} · ×{r.get('time_over_bound', float('nan')):.1f}"
                             if r is not None and _ok(r) else '')
            lines.append(f'| {_kL(L)} | ' + ' | '.join(cells) + ' |')
        lines.append('')
    lsh_impls = [i for i in impls if IMPLS[i][0] == 'lsh']
    if len(Rs) > 1 and lsh_impls:
        for mode in modes:
            lines += [f"## n_hashes ({'training step' if mode == 'train' else 'inference forward'}, {main_n} layers)", '',
                      'Seconds | step memory MiB; full attention for reference.', '',
                      '| L | n_hashes | ' + ' | '.join(impls) + ' |', '|---:|---:' + '|---:' * len(impls) + '|']
            LsR = sorted({r['seq_len'] for r in results if r['n_hashes'] and r['n_hashes'] != main_R and r['n_layers'] == main_n})
            for L in LsR:
                for R in Rs:
                    cells = []
                    for i in impls:
                        r = _cell(results, i, L, R, main_n, mode)
                        cells.append(_time_mem(r))
                    lines.append(f'| {_kL(L)} | {R} | ' + ' | '.join(cells) + ' |')
            lines.append('')
    deep = sorted({r['n_layers'] for r in results} - {main_n})
    for n in deep:
        lines += [f"## {n} layers (n_hashes {main_R})", '', 'Seconds | step memory MiB, and the ratio to the '
                  f'{main_n}-layer case (time, memory).', '',
                  '| L | mode | ' + ' | '.join(impls) + ' |', '|---:|---' + '|---:' * len(impls) + '|']
        for L in sorted({r['seq_len'] for r in results if r['n_layers'] == n}):
            for mode in modes:
                cells = []
                for i in impls:
                    r, r0 = _cell(results, i, L, main_R, n, mode), _cell(results, i, L, main_R, main_n, mode)
                    if r is None: cells.append(''); continue
                    if not _ok(r): cells.append(_val(r, 'time_s', '')); continue
                    c = f"{r['time_s']:.3f} \\| {r['step_mib']:.0f}"
                    if r0 is not None and _ok(r0): c += f" (×{r['time_s'] / r0['time_s']:.1f}, ×{r['step_mib'] / max(r0['step_mib'], 1e-9):.1f})"
                    cells.append(c)
                lines.append(f'| {_kL(L)} | {mode} | ' + ' | '.join(cells) + ' |')
        lines.append('')
    lines += ['## Parameters', '', 'Trainable parameters at each length (axial position tables grow with L; the rest does not).', '',
              '| impl | reversible | attention window (keys/query) | ' + ' | '.join(
                  f'{_kL(L)}, {n} layers' for L, n in sorted({(r['seq_len'], r['n_layers']) for r in results if _ok(r)})) + ' |']
    cols = sorted({(r['seq_len'], r['n_layers']) for r in results if _ok(r)})
    lines.append('|---|---|---:' + '|---:' * len(cols) + '|')
    for i in impls:
        rs = [r for r in results if r['impl'] == i and _ok(r)]
        if not rs: lines.append(f'| {i} | | ' + '| ' * len(cols) + '|'); continue
        c = rs[0]['config']
        win = c.get('keys_per_query') or 'all (causal)'
        vals = []
        for L, n in cols:
            r = next((r for r in rs if r['seq_len'] == L and r['n_layers'] == n), None)
            vals.append(f"{r['n_params']:,}" if r else '')
        lines.append(f"| {i} | {'yes' if c['reversible'] else 'no'} | {win} | " + ' | '.join(vals) + ' |')
    lines += ['', '## Differences between the implementations that remain', '']
    lines += [f'* {m}' for m in meta.get('mismatches', MISMATCHES)]
    fails = [r for r in results if not _ok(r) and not (r.get('skipped') or r.get('error', '').startswith(('skipped', 'unavailable')))]
    if fails:
        lines += ['', '## Failures', '']
        for r in fails:
            lines.append(f"* {r['impl']} L={r['seq_len']} R={r['n_hashes']} layers={r['n_layers']} {r['mode']}: {r['error'][-200:]!r}")
    return '\n'.join(lines) + '\n'

def plot(meta: dict, results: list[dict], path: Path):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    impls = _impls_in(results)
    main_n = 2 if any(r['n_layers'] == 2 for r in results) else min(r['n_layers'] for r in results)
    Rs = sorted({r['n_hashes'] for r in results if r['n_hashes']})
    main_R = 4 if 4 in Rs else (Rs[0] if Rs else None)
    modes = [m for m in ('train', 'infer') if any(r['mode'] == m for r in results)]
    sweep = len(Rs) > 1 and any(r['n_hashes'] not in (None, main_R) for r in results)
    fig, axes = plt.subplots(len(modes), 3 if sweep else 2, figsize=(17 if sweep else 12, 4.6 * len(modes)), squeeze=False)
    from matplotlib.ticker import NullLocator
    style = {i: dict(marker='o', ls='--' if IMPLS[i][0] == 'full' else ('-' if i in OURS else ':'),
                     lw=2.2 if i in OURS else 1.5) for i in impls}
    for row, mode in zip(axes, modes):
        for i in impls:
            rs = sorted((r for r in results if r['impl'] == i and r['mode'] == mode and r['n_layers'] == main_n and _ok(r)
                         and r['n_hashes'] in (main_R, None)), key=lambda r: r['seq_len'])
            if not rs: continue
            Ls = [r['seq_len'] for r in rs]
            row[0].plot(Ls, [r['time_s'] for r in rs], label=i, **style[i])
            row[1].plot(Ls, [r['step_mib'] for r in rs], label=i, **style[i])
        what = 'training step' if mode == 'train' else 'inference forward'
        for ax, ylab in zip(row[:2], ('seconds', 'step memory (MiB)')):
            ax.set(xscale='log', yscale='log', xlabel='sequence length', ylabel=ylab, title=f'{what}: {ylab} (n_hashes {main_R}, {main_n} layers)')
            Ls = sorted({r['seq_len'] for r in results if _ok(r)})
            ax.set_xticks(Ls, [_kL(L) for L in Ls]); ax.xaxis.set_minor_locator(NullLocator()); ax.grid(alpha=.3, which='both')
        if row[0].get_legend_handles_labels()[0]: row[0].legend(fontsize=8)
        if not sweep: continue
        ax = row[2]
        L_R = 4096 if any(r['seq_len'] == 4096 and r['n_hashes'] not in (None, main_R) for r in results) else None
        if L_R is None:
            cand = sorted({r['seq_len'] for r in results if r['n_hashes'] not in (None, main_R)})
            L_R = cand[len(cand) // 2] if cand else None
        if L_R is not None and len(Rs) > 1:
            for i in impls:
                if IMPLS[i][0] == 'lsh':
                    pts = sorted((r['n_hashes'], r['time_s']) for r in results if r['impl'] == i and r['mode'] == mode
                                 and r['seq_len'] == L_R and r['n_layers'] == main_n and _ok(r))
                    if pts: ax.plot(*zip(*pts), label=i, **style[i])
                else:
                    r = _cell(results, i, L_R, None, main_n, mode)
                    if r is not None and _ok(r): ax.axhline(r['time_s'], color='gray', ls='--' if i == 'SDPA-full' else '-.', lw=1, label=i)
            ax.set(xscale='log', yscale='log', xlabel='n_hashes', ylabel='seconds', title=f'{what} vs n_hashes at L={_kL(L_R)}')
            ax.set_xticks(Rs, [str(R) for R in Rs]); ax.xaxis.set_minor_locator(NullLocator()); ax.grid(alpha=.3, which='both')
            if ax.get_legend_handles_labels()[0]: ax.legend(fontsize=8)
        else: ax.axis('off')
    fig.suptitle(f"causal char LM (d_model 256, 4 heads, d_ff 1024, bucket 64), batch 1, {meta['args']['device']} "
                 f"{meta['args']['dtype']}, {meta.get('threads')} threads", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100); plt.close(fig)

def write_report(stem: Path, plot_path: Path | None = None):
    d = json.loads(Path(f'{stem}.json').read_text())
    meta, results = d['meta'], d['results']
    md = report_md(meta, results)
    plot_path = plot_path or PLOTS / f'{stem.name}.png'
    plot(meta, results, plot_path)
    try: rel = os.path.relpath(plot_path, stem.parent)
    except ValueError: rel = str(plot_path)
    md = md.replace('\n## ', f'\n![time and memory vs sequence length]({rel})\n\n## ', 1)
    Path(f'{stem}.md').write_text(md)
    return md


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
    ap.add_argument('--warmup', type=int, default=None, help='default 1')
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
    a = ap.parse_args(argv)
    a.impls = a.impls or DEFAULT_IMPLS
    a.warmup = 1 if a.warmup is None else a.warmup
    a.repeats = a.repeats if a.repeats is not None else (1 if a.quick else 3)
    stem = out_stem(a)
    if not a.report_only: run(a)
    md = write_report(stem, Path(a.plot) if a.plot else None)
    print('\n' + md)
    print(f"wrote {stem}.json, {stem}.md and {Path(a.plot) if a.plot else PLOTS / (stem.name + '.png')}")


if __name__ == '__main__': main()
