"""Training: the one route from a spec to a result.

- `train.metrics`: losses, the token-weighted metrics and their one evaluator (`evaluate`), BLEU.
- `train.learner`: fastai learners, optimisers, schedules over exact step counts, mixed precision,
  the NaN guard, evaluation with other hash counts, validation curves.
- `train.checkpoint`: checkpoints that resume a run exactly; atomic file writes.
- `train.logging`: Weights & Biases runs (offline by default) and fastai's wandb callback, fixed.
- `train.distributed`: data-parallel training on GPUs (NCCL) or CPUs (gloo).
- `train.run`: `TrainSpec`, `train(spec) -> Result` and `reformer-repro train`.
"""
from .run import train, TrainSpec, Result, ResultNotSaved, RunFolderBusy
