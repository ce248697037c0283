"""Reformer: The Efficient Transformer (Kitaev, Kaiser, Levskaya, ICLR 2020) — a tested, notebook-driven reproduction with LSH attention, reversible layers and chunked feed-forward, trained with fastai.

Modules:

- `reformer_repro.bench`: Timing and peak memory of one case per fresh Python process, and the LSH-attention speed sweep of paper Fig. 5 (right): time per batch at a fixed number of tokens as the sequence length grows.
- `reformer_repro.cli`: `reformer-repro`: train one model, run one experiment, reproduce every claim and write the report, print a task's config, or run a benchmark.
- `reformer_repro.data.core`: What every data module relies on: one convention for unscored targets, a seeded epoch-aware `DataLoader`, where downloads are kept, how "offline" is decided in seconds, how local files are found, and the fingerprint that ties a result to the exact data it was computed from.
- `reformer_repro.data.enwik8`: enwik8 as a verified uint8 tensor — from a local file, the Hugging Face hub or the original URL, failing in seconds when offline — its standard split, and fastai `DataLoaders` of fixed-length byte windows that score every evaluation byte exactly once.
- `reformer_repro.data.synthetic`: The paper's §5 sanity task — copy a random sequence seen half a sequence earlier — as deterministic, regenerable fastai `DataLoaders`.
- `reformer_repro.data.wmt`: Parallel corpora from local files (OpenNMT or `<split>.en/.de` layouts, Moses-tokenised or raw) or the Hugging Face hub, a shared byte-level BPE vocabulary, and length-bucketed `(src, tgt_in, tgt_out)` batches for encoder–decoder training.
- `reformer_repro.exp.configs`: The paper's claims as pinned experiments: one config dataclass per task, values per scale, and `key=value` overrides parsed with each field's type.
- `reformer_repro.exp.report`: From saved results to `REPORT.md`: aggregate seeds (mean ± std), put our numbers beside the paper's and the 2020 reproduction's, decide per claim whether it held, and draw the plots.
- `reformer_repro.exp.runners`: Each task's arms and seeds as training specs for the one training route, `train(spec)`, or as benchmark cases; one result file per run; `reproduce` runs every task and writes the report.
- `reformer_repro.exp.store`: Where experiment results live, what each one records about its provenance (code version, machine, data), and how they are written so that a half-written or lost file cannot happen.
- `reformer_repro.experiments`: Every claim of the paper as a pinned, versioned experiment: one config dataclass per task and scale (saved as JSON beside its results), a runner that trains and evaluates each arm for each seed through the library's data and training modules, and one JSON file per run.
- `reformer_repro.lsh`: Angular locality-sensitive hashing, sorting into chunks and multi-round LSH attention (paper §2 and appendix A), vectorised over batch, heads and rounds, and checked against a brute-force reference written straight from the paper's equations.
- `reformer_repro.reformer`: The named model families of the paper — `LSHLM`, `ReversibleLM`, `ReformerLM` and the encoder-decoders `ReversibleTransformer` and `ReformerEncDec` — as thin presets of the one `TransformerConfig`, plus incremental generation with LSH attention.
- `reformer_repro.report`: From saved results to `REPORT.md`: aggregate seeds (mean ± std), put our numbers beside the paper's and the 2020 reproduction's, decide per claim whether it held, and draw the plots.
- `reformer_repro.reversible`: The Reformer's memory savings besides LSH: reversible residual layers whose backward pass recomputes activations instead of storing them, a feed-forward applied chunk by chunk in forward *and* backward, and a chunked LM head + cross-entropy.
- `reformer_repro.training`: fastai `Learner`s for the paper's three workloads: exact token-weighted metrics (masked accuracy, bits per character, perplexity) and BLEU, Adam and Adafactor, mixed precision, gradient clipping and accumulation, a NaN guard, eval-time `n_hashes`, checkpoints that resume bit-exactly, Weights & Biases logging, and data-parallel training over several processes (GPUs, or CPUs with gloo)."""

__version__ = "0.1.0"
