"""Reformer: The Efficient Transformer (Kitaev, Kaiser, Levskaya, ICLR 2020) — a tested, notebook-driven reproduction with LSH attention, reversible layers and chunked feed-forward, trained with fastai.

Modules:

- `reformer_repro.core`: Small helpers shared by every module: defaults, input checks, attention masks and seeded random generators."""

__version__ = "0.1.0"
