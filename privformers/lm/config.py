"""What ``train-lm`` is given: data, split, tokenizer, model shape and optimisation (no torch needed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from privformers.lm.model import ModelShape

CLEANING = ("none", "other-names", "slot-errors")   # which training references train-lm leaves out
SELECTION = ("bleu", "bleu-ser")                    # what picks the kept checkpoint


@dataclass
class TrainConfig:
    """Everything ``train-lm`` needs: data, split, tokenizer, model shape and optimisation."""

    data: str
    out: str
    task: str = "e2e"
    split_by: str = "mr"              # mr, name or name+mr (privformers.data.splits.split_pairs)
    delex: tuple[str, ...] = ()       # slots whose values become placeholders (privformers.lm.delex)
    clean: str = "none"               # drop training references: none, other-names or slot-errors
    validation_fraction: float = 0.05
    test_fraction: float = 0.10
    split_seed: int = 0
    vocab_size: int = 1024
    shape: ModelShape = field(default_factory=ModelShape)
    epochs: int = 30
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 200
    eval_every: int = 2
    select: str = "bleu"              # bleu or bleu-ser (validation BLEU minus slot error rate)
    max_new_tokens: int = 96
    seed: int = 0
    threads: int = 1
