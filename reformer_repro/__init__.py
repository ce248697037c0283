"""Reformer: The Efficient Transformer (Kitaev, Kaiser, Levskaya, ICLR 2020) — a tested, notebook-driven reproduction with LSH attention, reversible layers and chunked feed-forward, trained with fastai.

Modules:

- `reformer_repro.attention`: Multi-head attention with full (SDPA) and query-chunked paths, causal and padding masks, cross-attention, shared-QK, and a key/value cache for incremental decoding.
- `reformer_repro.core`: Small helpers shared by every module: defaults, input checks, attention masks and seeded random generators.
- `reformer_repro.layers`: Feed-forward blocks, residual wrappers (pre- and post-norm) and positional encodings (learned, sinusoidal and axial).
- `reformer_repro.transformer`: The full-attention baseline every Reformer result is compared against: one config dataclass, a decoder-only `TransformerLM`, encoder and decoder stacks, the encoder-decoder `Transformer`, and generation with a key/value cache."""

__version__ = "0.1.0"
