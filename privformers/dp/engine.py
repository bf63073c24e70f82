"""The privacy engine: DP-SGD/DP-Adam for any torch optimizer, fed a per-example loss.

Usage: ``engine = PrivacyEngine(model, batch_size=..., sample_size=..., epochs=..., max_grad_norm=...,
target_epsilon=...); engine.attach(optimizer)``; then per batch ``optimizer.step(loss=per_example_loss)``
(or ``optimizer.virtual_step(loss=...)`` to accumulate). The engine runs the backward pass itself,
clips each example's gradient to ``max_grad_norm``, adds Gaussian noise of standard deviation
``noise_multiplier * max_grad_norm`` once per step, and divides by the expected batch size.

Across ranks (``torch.distributed`` initialised with more than one rank, e.g. under ``torchrun`` or
``accelerate launch``): ``batch_size`` and ``sample_size`` are the logical batch and the whole
dataset, each rank feeds the losses of its share (``DistributedPoissonSampler``), and the step sums
the ranks' clipped sums with one noise draw per coordinate (``privformers.dp.distributed``; FSDP2
parameters: ``privformers.dp.sharded``). Every rank must call ``step`` once per logical step, also
with an empty share. The accounting is the single-process one: one Poisson-subsampled Gaussian event
per logical step with q = batch_size / sample_size.
"""

from __future__ import annotations

import math
import types

import torch
from torch import Tensor, nn

from privformers.dp import accounting, distributed, sharded
from privformers.dp.clipping import CLIPPING_MODES, clip_factors, clipped_sums, squared_norms
from privformers.dp.noise import gaussian_like_many
from privformers.dp.recorder import GradientRecorder

SAMPLING_MODES = ("poisson", "shuffle")


class PrivacyEngine:
    """Differentially private gradients for ``module``'s trainable parameters."""

    def __init__(self, module: nn.Module, *, batch_size: int, sample_size: int, max_grad_norm: float,
                 epochs: float | None = None, steps: int | None = None,
                 noise_multiplier: float | None = None, target_epsilon: float | None = None,
                 target_delta: float | None = None, clipping_mode: str = "bk",
                 accounting_mode: str = "rdp", sampling: str = "poisson", data_parallel: bool | None = None):
        if batch_size <= 0 or sample_size <= 0 or batch_size > sample_size:
            raise ValueError(f"need 0 < batch_size <= sample_size, got {batch_size}, {sample_size}")
        if max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm must be > 0, got {max_grad_norm}")
        if clipping_mode not in CLIPPING_MODES:
            raise ValueError(f"clipping_mode must be one of {CLIPPING_MODES}, got {clipping_mode!r}")
        if accounting_mode not in accounting.ACCOUNTING_MODES:
            raise ValueError(f"accounting_mode must be one of {accounting.ACCOUNTING_MODES}")
        if sampling not in SAMPLING_MODES:
            raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {sampling!r}")
        if (epochs is None) == (steps is None):
            raise ValueError("give exactly one of epochs and steps")
        if (noise_multiplier is None) == (target_epsilon is None):
            raise ValueError("give exactly one of noise_multiplier and target_epsilon")
        self.module = module
        self.batch_size = batch_size
        self.sample_size = sample_size
        self.sample_rate = batch_size / sample_size
        self.steps = int(steps) if steps is not None else math.ceil(epochs * sample_size / batch_size)
        self.max_grad_norm = float(max_grad_norm)
        self.target_delta = target_delta if target_delta is not None else 1 / sample_size**1.1
        self.clipping_mode = clipping_mode
        self.accounting_mode = accounting_mode
        self.sampling = sampling
        self.target_epsilon = target_epsilon
        if noise_multiplier is None:
            mode = "rdp" if accounting_mode == "all" else accounting_mode
            noise_multiplier = accounting.noise_multiplier_for_epsilon(
                target_epsilon, self.sample_rate, self.steps, self.target_delta, mode)
        self.noise_multiplier = float(noise_multiplier)
        self.recorder = GradientRecorder(module)
        self.params = self.recorder.params
        self._setup_ranks(data_parallel)
        self.steps_taken = 0
        self.summed: dict[nn.Parameter, Tensor] = {}
        self.last_norms: Tensor | None = None
        self.optimizer = None

    def _setup_ranks(self, wanted: bool | None) -> None:
        """Data-parallel across ranks when a multi-rank process group is up (or ``wanted``)."""
        self.sharded_params = [p for p in self.params if sharded.is_sharded(p)]
        # FSDP on a job of one rank (one GPU) takes the sharded path too: the same code as on many
        up = distributed.is_distributed() or (bool(self.sharded_params) and torch.distributed.is_initialized())
        if wanted and not up:
            raise ValueError("data_parallel=True needs torch.distributed initialised with more than one rank")
        self.distributed = up if wanted is None else bool(wanted)
        self.rank, self.world = distributed.rank_and_world() if self.distributed else (0, 1)
        if self.sharded_params:
            if not self.distributed:
                raise ValueError("the model has sharded (DTensor) parameters but the engine is not distributed")
            sharded.check_sharded(self.sharded_params, self.clipping_mode)
        if self.distributed:
            distributed.broadcast_module(self.module)  # replicas start equal (DDP does the same)

    # --- gradients -------------------------------------------------------------------------
    def _clipped_sums(self, loss: Tensor) -> dict[nn.Parameter, Tensor]:
        """Backward pass(es) for a per-example ``loss`` and the clipped per-example gradient sums."""
        if not isinstance(loss, Tensor) or loss.dim() != 1:
            raise ValueError("loss must be a 1-D per-example tensor (batch first); got "
                             f"{getattr(loss, 'shape', type(loss))}")
        recorder = self.recorder
        if not recorder.enabled or recorder.batch_size != loss.shape[0]:
            raise RuntimeError(
                "no recorded forward pass for this loss: call engine.record(batch_size) (the Trainer "
                "integration and the attached optimizer's forward do this) before the model forward")
        watched = list({id(t): t for t in recorder.watched}.values())
        try:
            second = self.clipping_mode in ("ghost", "mixed")
            torch.autograd.grad(loss.sum(), watched, retain_graph=second, allow_unused=True)
            norms_sq, dense = squared_norms(recorder.pieces, self.clipping_mode)
            norms = norms_sq.clamp_min(0).sqrt()
            factors = clip_factors(norms, self.max_grad_norm)
            if second:
                recorder.enabled = False
                params = list(recorder.pieces)
                grads = torch.autograd.grad((loss * factors.detach()).sum(), params, allow_unused=True)
                sums = {p: g for p, g in zip(params, grads) if g is not None}
            else:
                sums = clipped_sums(recorder.pieces, dense, factors)
        finally:
            recorder.enabled = False
            recorder.clear()
        self.last_norms = norms.detach()
        return sums

    def record(self, batch_size: int) -> None:
        """Start recording the next forward pass of ``batch_size`` examples."""
        self.recorder.start(batch_size)

    def virtual_step(self, loss: Tensor) -> None:
        """Accumulate clipped per-example gradients of ``loss`` without updating parameters.

        With sharded parameters each one's clipped sum is reduce-scattered to its shard here (a
        collective per sharded parameter: every rank makes the same number of virtual steps)."""
        sums = self._clipped_sums(loss)
        if self.sharded_params:
            dtype = distributed.reduction_dtype(self.sharded_params)
            for param in self.sharded_params:
                full = sums.pop(param, None)
                if full is None:
                    full = torch.zeros(param.shape, dtype=dtype, device=param.device)
                sums[param] = sharded.reduce_to_shard(full, param, dtype)
        for param, total in sums.items():
            self.summed[param] = self.summed[param] + total if param in self.summed else total

    def private_gradients(self, loss: Tensor | None = None) -> None:
        """Write (accumulated clipped sums + noise) / batch_size into ``param.grad``; reset the sums."""
        if loss is not None:
            self.virtual_step(loss)
        std = self.noise_multiplier * self.max_grad_norm
        if self.distributed:
            self._distributed_gradients(std)
        else:
            # unused by the batch (or an empty Poisson batch): the sum is zero
            totals = [self.summed[p] if p in self.summed else torch.zeros_like(p) for p in self.params]
            for param, total, noise in zip(self.params, totals, gaussian_like_many(totals, std)):
                param.grad = ((total + noise) / self.batch_size).to(param.dtype)
        self.summed = {}
        self.steps_taken += 1

    def _distributed_gradients(self, std: float) -> None:
        """Sum over ranks plus one noise draw per coordinate: one all-reduce for replicated parameters,
        the owner's noise on each shard of a sharded one (already reduced by ``virtual_step``)."""
        replicated = [p for p in self.params if not sharded.is_sharded(p)]
        if replicated:
            totals = [self.summed[p] if p in self.summed else torch.zeros_like(p) for p in replicated]
            for param, total in zip(replicated, distributed.noisy_all_reduce(totals, std)):
                param.grad = (total / self.batch_size).to(param.dtype)
        if self.sharded_params:
            dtype = distributed.reduction_dtype(self.sharded_params)
            shards = [self.summed[p] if p in self.summed else sharded.zeros_shard(p, dtype)
                      for p in self.sharded_params]
            sharded.add_shard_noise(shards, std)
            for param, shard in zip(self.sharded_params, shards):
                param.grad = (shard / self.batch_size).to(param.dtype)

    # --- optimizer integration ---------------------------------------------------------------
    def attach(self, optimizer: torch.optim.Optimizer) -> None:
        """Make ``optimizer.step(loss=...)`` private and add ``optimizer.virtual_step(loss=...)``."""
        engine = self
        original_step = optimizer.step

        def step(self, *args, loss: Tensor | None = None, **kwargs):
            engine.private_gradients(loss)  # loss=None releases the virtual steps accumulated so far
            return original_step(*args, **kwargs)

        def virtual_step(self, loss: Tensor) -> None:
            engine.virtual_step(loss)

        optimizer.step = types.MethodType(step, optimizer)
        optimizer.virtual_step = types.MethodType(virtual_step, optimizer)
        optimizer.privacy_engine = self
        self._original_step = original_step
        self.optimizer = optimizer
        self._forward_hook = self.module.register_forward_pre_hook(self._start_recording, with_kwargs=True)

    def _start_recording(self, module, args, kwargs):
        tensors = [a for a in list(args) + list(kwargs.values()) if isinstance(a, Tensor) and a.dim() > 0]
        if tensors and module.training and torch.is_grad_enabled():
            self.record(tensors[0].shape[0])

    def detach(self) -> None:
        """Restore the optimizer and remove all hooks."""
        if self.optimizer is not None:
            self.optimizer.step = self._original_step
            del self.optimizer.virtual_step, self.optimizer.privacy_engine
            self._forward_hook.remove()
            self.optimizer = None
        self.recorder.remove()

    # --- accounting ----------------------------------------------------------------------------
    def get_privacy_spent(self, steps: int | None = None, accounting_mode: str | None = None) -> dict:
        """Epsilon at ``target_delta`` after ``steps`` (default: steps taken) under each accountant."""
        steps = self.steps_taken if steps is None else steps
        mode = accounting_mode or self.accounting_mode
        modes = ("rdp", "pld") if mode == "all" else (mode,)
        report = {f"eps_{m}": accounting.epsilon(self.sample_rate, self.noise_multiplier, steps,
                                                 self.target_delta, m) for m in modes}
        report.update(delta=self.target_delta, steps=steps, sampling_assumed="poisson",
                      sampling_used=self.sampling)
        if self.sampling != "poisson":
            report["note"] = ("accounting assumes Poisson subsampling with rate q = batch_size / "
                              "sample_size; shuffled fixed-size batches are not covered by this bound")
        return report

    def get_training_stats(self) -> dict:
        """Hyperparameters and state of private training, for logs and reports."""
        return {"batch_size": self.batch_size, "sample_size": self.sample_size,
                "sample_rate": self.sample_rate, "planned_steps": self.steps, "steps_taken": self.steps_taken,
                "max_grad_norm": self.max_grad_norm, "noise_multiplier": self.noise_multiplier,
                "target_epsilon": self.target_epsilon, "target_delta": self.target_delta,
                "clipping_mode": self.clipping_mode, "accounting_mode": self.accounting_mode,
                "sampling": self.sampling}
