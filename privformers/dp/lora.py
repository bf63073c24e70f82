"""Low-rank adapters (LoRA, via ``peft``) for DP fine-tuning: far fewer noised coordinates.

DP noise has the same scale on every trained coordinate, so its norm grows with the square root of
the number of trained parameters; LoRA trains a few hundred thousand instead of millions (Yu et al.,
"Differentially private fine-tuning of language models", 2022). The adapters are ``nn.Linear``
layers, so the engine's registered Linear rule clips them; the frozen base weights get no noise.
"""

from __future__ import annotations

import copy
import re

import torch

DEFAULT_TARGETS = r".*\.(query|value|q_proj|v_proj|c_attn)$|.*pooler\.dense$"


def add_lora(model: torch.nn.Module, rank: int, alpha: float | None = None,
             targets: str = DEFAULT_TARGETS, task: str = "classification") -> torch.nn.Module:
    """A peft model: rank-``rank`` adapters on the modules whose full name matches ``targets``; the
    base is frozen; for classification the new head is trained in full (peft's modules_to_save)."""
    try:
        from peft import LoraConfig, TaskType, get_peft_model
    except ImportError:
        raise ImportError("LoRA needs the optional dependency peft: pip install 'privformers[lora]'") from None
    if rank < 1:
        raise ValueError(f"LoRA rank must be >= 1, got {rank}")
    from transformers.pytorch_utils import Conv1D

    task_type = TaskType.SEQ_CLS if task == "classification" else TaskType.CAUSAL_LM
    conv1d = any(isinstance(m, Conv1D) and re.fullmatch(targets, n) for n, m in model.named_modules())
    config = LoraConfig(r=rank, lora_alpha=alpha if alpha is not None else 2 * rank, lora_dropout=0.0,
                        target_modules=targets, task_type=task_type, bias="none",
                        fan_in_fan_out=conv1d)  # GPT-2's Conv1D stores its weight transposed
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        raise ValueError(f"--lora-targets {targets!r}: {exc}") from None


def merged(model: torch.nn.Module) -> torch.nn.Module:
    """A plain Transformers model with the adapters folded into the weights (for save_pretrained and
    for the MPC runtime, which then sees an ordinary model); ``model`` itself is left as it is."""
    if not hasattr(model, "merge_and_unload"):
        return model
    return copy.deepcopy(model).merge_and_unload()
