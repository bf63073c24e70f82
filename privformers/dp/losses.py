"""Per-example losses (1-D, batch first) for the tasks dp-train and the Trainer integration support."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def classification_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy per example, (B,)."""
    return F.cross_entropy(logits, labels, reduction="none")


def lm_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Next-token cross-entropy averaged over each example's labelled positions (label -100 ignored)."""
    logits, labels = logits[:, :-1], labels[:, 1:]
    token = F.cross_entropy(logits.permute(0, 2, 1), labels, reduction="none", ignore_index=-100)
    counts = (labels != -100).sum(dim=1).clamp_min(1)
    return token.sum(dim=1) / counts


def per_example_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Classification loss for (B, C) logits, language-model loss for (B, T, V) logits."""
    if labels.shape[0] != logits.shape[0]:
        raise ValueError(f"labels batch {labels.shape[0]} != logits batch {logits.shape[0]}")
    if logits.dim() == 2:
        return classification_loss(logits, labels)
    if logits.dim() == 3:
        return lm_loss(logits, labels)
    raise ValueError(f"expected logits of shape (B, C) or (B, T, V), got {tuple(logits.shape)}")


def mean_or_zero(loss: Tensor) -> Tensor:
    """Mean of a possibly empty loss vector, for logging."""
    return loss.mean() if loss.numel() else torch.zeros((), device=loss.device)
