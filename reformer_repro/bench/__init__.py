"""Benchmarks: time and peak memory of one case per fresh process, FLOP counts, and the cases the speed and memory
experiments and the peer comparison run.

- `reformer_repro.bench.harness`: `time_fn`, memory readers, `run_in_subprocess` (each case in
  `python -m reformer_repro.bench.child`), `bench_meta`, `save_bench` / `load_bench`.
- `reformer_repro.bench.flops`: analytic FLOPs of an LM step (`lm_step_flops`) and measured rates (`matmul_gflops`).
- `reformer_repro.bench.cases`: one attention layer and the layer speed sweep (paper Fig. 5, right), memory of a
  training step vs depth, a whole-LM step, the LSH-vs-SDPA crossover and a profile of where LSH's time goes.
- `reformer_repro.bench.peers`: the same causal LM in this library, reformer-pytorch and Hugging Face transformers,
  with its report.
"""
