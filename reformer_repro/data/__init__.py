"""The paper's three workloads as fastai `DataLoaders`, and every "where is the data" decision.

- `data.core`: the unscored-target convention (`IGNORE_INDEX`), the seeded epoch-aware `EpochDL`,
  the download cache, the offline policy (`offline_reason`, `DataNotAvailableError`) and file lookup.
- `data.synthetic`: the duplication task of the paper's §5 (`synthetic_dls`).
- `data.enwik8`: enwik8 bytes from a local file, the hub or the original URL (`enwik8_bytes`,
  `load_enwik8`), its standard split, and byte-level LM loaders (`enwik8_dls`, `char_lm_dls`).
- `data.wmt`: WMT14 en-de parallel text (`wmt_corpus`, `load_wmt14`), a shared subword tokenizer
  and length-bucketed translation batches (`wmt_dls`).

Every public name of the submodules is importable from `reformer_repro.data` itself.
"""
from .core import *
from .synthetic import *
from .enwik8 import *
from .wmt import *
