"""Hugging Face ``Trainer`` integration: ``DPTrainer`` is a drop-in Trainer that trains privately.

Changes for a Trainer user: build ``DPTrainer(..., privacy=dict(target_epsilon=8, epochs=3,
max_grad_norm=0.1))`` instead of ``Trainer``. The trainer then draws Poisson batches of expected
size ``per_device_train_batch_size`` (empty ones included), computes per-example losses, and lets
the attached privacy engine clip, noise and step; epsilon is added to the logs.

Several processes (``accelerate launch --num_processes N`` or ``torchrun``): the logical batch is
``per_device_train_batch_size * N`` in expectation, as Trainer users expect, drawn by one Poisson
mask shared by all ranks (``DistributedPoissonSampler``); each rank runs its share through the
*unwrapped* model (the DDP wrapper that Trainer adds would all-reduce raw gradients and broadcast
buffers in every forward, and ranks run different numbers of examples), and the engine all-reduces
the clipped sums once per step with one noise draw per coordinate. Epsilon is the single-process
value for that logical batch; Trainer logs and saves from the main process only.
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import DataLoader
from transformers import Trainer

from privformers.dp.distributed import rank_and_world
from privformers.dp.engine import PrivacyEngine
from privformers.dp.losses import per_example_loss
from privformers.dp.sampling import DistributedPoissonSampler, PoissonBatchSampler


class DPTrainer(Trainer):
    """Trainer with DP-SGD/DP-Adam; ``privacy`` holds PrivacyEngine keyword arguments."""

    def __init__(self, *args, privacy: dict, **kwargs):
        super().__init__(*args, **kwargs)
        if self.args.gradient_accumulation_steps != 1:
            raise ValueError("DPTrainer draws whole Poisson batches; set gradient_accumulation_steps=1")
        if getattr(self, "is_fsdp_enabled", False) or getattr(self, "is_deepspeed_enabled", False):
            raise ValueError("DPTrainer does not run under accelerate's FSDP or DeepSpeed plugins (they would "
                             "wrap the model after the privacy engine is attached): launch plain data "
                             "parallel, or shard with privformers.dp.sharded.shard_model and use the "
                             "PrivacyEngine directly")
        self.args.max_grad_norm = 0.0  # clipping is per example, done by the privacy engine
        self.privacy = dict(privacy)
        self.privacy_engine: PrivacyEngine | None = None

    def _logical_batch_size(self) -> int:
        """Expected examples per step over all processes: per-device batch times the world size."""
        return self.args.per_device_train_batch_size * rank_and_world()[1]

    def _sample_rate(self) -> float:
        return self._logical_batch_size() / len(self.train_dataset)

    def get_train_dataloader(self) -> DataLoader:
        """Poisson-sampled logical batches (this rank's share of each); an empty one collates to an empty
        dict. Not handed to accelerate: the sampler already splits each batch over the ranks."""
        collate = self.data_collator
        sampler_type = DistributedPoissonSampler if rank_and_world()[1] > 1 else PoissonBatchSampler
        sampler = sampler_type(len(self.train_dataset), self._sample_rate(), math.ceil(1 / self._sample_rate()))
        return DataLoader(self.train_dataset, batch_sampler=sampler,
                          collate_fn=lambda examples: collate(examples) if examples else {})

    def create_optimizer(self, model=None):
        """The usual optimizer, with the privacy engine attached."""
        optimizer = super().create_optimizer(model) if model is not None else super().create_optimizer()
        if self.privacy_engine is None:
            settings = {"batch_size": self._logical_batch_size(),
                        "sample_size": len(self.train_dataset), **self.privacy}
            if "epochs" not in settings and "steps" not in settings:
                settings["steps"] = self.args.max_steps if self.args.max_steps > 0 else math.ceil(
                    self.args.num_train_epochs / self._sample_rate())
            self.privacy_engine = PrivacyEngine(self.model, **settings)
            self.privacy_engine.attach(optimizer)
        return optimizer

    def training_step(self, model, inputs, num_items_in_batch=None):
        """Per-example loss into the engine (no backward here); returns the mean loss for logging."""
        if not inputs:
            return torch.zeros((), device=self.args.device)
        inputs = self._prepare_inputs(dict(inputs))
        labels = inputs.pop("labels")
        model = self.accelerator.unwrap_model(model)  # not through DDP: see the module docstring
        model.train()
        loss = per_example_loss(model(**inputs).logits, labels)
        self.privacy_engine.virtual_step(loss)
        return loss.mean().detach()

    def floating_point_ops(self, inputs) -> int:
        """Zero for an empty Poisson batch."""
        return super().floating_point_ops(inputs) if inputs else 0

    def log(self, logs: dict, *args, **kwargs) -> None:
        """Add epsilon spent so far to every log line."""
        if self.privacy_engine is not None:
            spent = self.privacy_engine.get_privacy_spent()
            logs = {**logs, **{k: v for k, v in spent.items() if k.startswith("eps")}}
        super().log(logs, *args, **kwargs)
