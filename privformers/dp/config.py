"""``DPTrainConfig``: every setting of a dp-train run (``privformers.dp.train.train``).

The ``privformers dp-train`` command builds one from its options (their defaults are these), and the
private pipeline builds one for its teacher phase. Imports only the standard library, so the command
line can read the defaults without loading torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DPTrainConfig:
    """A dp-train run. Exactly one of ``steps`` and ``epochs``; exactly one of ``target_epsilon`` and
    ``noise_multiplier`` unless ``non_private`` (the command line refuses other combinations)."""

    model: str                                  # folder loadable with from_pretrained (or a hub id)
    data: str                                   # training file (classification TSV, or lm pairs)
    task: str                                   # "lm" or "classification"
    tokenizer: str | None = None                # default: model
    random_init: bool = False                   # random weights from the model's config
    eval_data: str | None = None
    lm_data_task: str = "e2e"                   # lm: the reader of data and eval_data
    target_epsilon: float | None = None
    noise_multiplier: float | None = None       # 0: clipping only, reported as not private
    target_delta: float | None = None           # default 1 / N^1.1
    non_private: bool = False                   # baseline: no clipping, no noise
    batch_size: int = 256                       # expected (logical) batch size
    max_physical_batch_size: int = 32
    steps: int | None = None
    epochs: float | None = None
    lr: float = 5e-4
    lr_schedule: str = "constant"               # or "linear": warm-up, then linear decay to 0
    warmup_steps: int = 0
    max_grad_norm: float = 0.1
    clipping_mode: str = "bk"
    accounting_mode: str = "rdp"                # "rdp" or "pld": finds the noise multiplier
    ema: float | None = None                    # decay of a parameter average evaluated and saved
    max_length: int = 64
    freeze_embeddings: bool = False
    trainable: str | None = None                # regex: train only the parameters whose names match
    lora: int | None = None                     # rank of LoRA adapters trained instead of the weights
    lora_alpha: float | None = None             # default 2 * rank
    lora_targets: str | None = None             # regex of the Linear layers that get adapters
    max_train_examples: int | None = None
    max_eval_examples: int | None = None
    eval_batch_size: int = 64
    bleu_mrs: int = 0                           # lm: BLEU of greedy generations for this many sources
    log_every: int = 50
    save_every: int = 0                         # 0: the final checkpoint only
    output_dir: str = "dp-train-out"
    threads: int = 1                            # torch threads per process
    seed: int = 0                               # seed of the non-private baseline's batches
