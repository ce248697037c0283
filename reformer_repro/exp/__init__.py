"""Experiments: the paper's claims as pinned configs, a results store, the runners that train each
arm through `reformer_repro.train.train`, statistics and baselines, and the report."""
