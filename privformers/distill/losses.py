"""Distillation loss terms (MPCFormer, MERGE) as plain functions of tensors, each masked to real tokens.

MPCFormer's terms also come per example (``per_example=True``: a (batch,) tensor, each example's mean
over its own real tokens), the 1-D loss DP-SGD clips example by example (``privformers.distill.private``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None, per_example: bool = False) -> torch.Tensor:
    """Mean of values (batch, seq, ...) over the positions where mask (batch, seq) is 1; with
    ``per_example``, each example's mean over its own positions, shape (batch,)."""
    if mask is None:
        return values.flatten(1).mean(1) if per_example else values.mean()
    m = mask.to(values.dtype).reshape(*mask.shape, *([1] * (values.dim() - mask.dim())))
    if per_example:
        count = m.flatten(1).sum(1) * values[0, 0].numel()
        return (values * m).flatten(1).sum(1) / count.clamp_min(1)
    count = m.sum() * values[0, 0].numel()
    return (values * m).sum() / count.clamp_min(1)


def hidden_mse(student: tuple[torch.Tensor, ...], teacher: tuple[torch.Tensor, ...],
               mask: torch.Tensor | None = None, per_example: bool = False) -> torch.Tensor:
    """MPCFormer stage 1: the mean over layers of the MSE between each pair of hidden states
    (embedding output included), over real tokens."""
    if len(student) != len(teacher):
        raise ValueError(f"student has {len(student)} hidden states, teacher {len(teacher)}; layers must pair up")
    return torch.stack([_masked_mean((s - t) ** 2, mask, per_example) for s, t in zip(student, teacher)]).mean(0)


def attention_mse(student: tuple[torch.Tensor, ...], teacher: tuple[torch.Tensor, ...],
                  mask: torch.Tensor | None = None, per_example: bool = False) -> torch.Tensor:
    """MPCFormer stage 1: the mean over layers of the MSE between attention probability maps
    (batch, heads, query, key), over real query rows (masked keys are zero in both)."""
    if len(student) != len(teacher):
        raise ValueError(f"student has {len(student)} attention maps, teacher {len(teacher)}; layers must pair up")
    return torch.stack([_masked_mean(((s - t) ** 2).transpose(1, 2), mask, per_example)
                        for s, t in zip(student, teacher)]).mean(0)


def soft_cross_entropy(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0,
                       mask: torch.Tensor | None = None, per_example: bool = False) -> torch.Tensor:
    """MPCFormer stage 2: -sum_c softmax(t/T)_c log softmax(s/T)_c, averaged over rows (real tokens)."""
    target = F.softmax(teacher_logits / temperature, dim=-1)
    per_row = -(target * F.log_softmax(student_logits / temperature, dim=-1)).sum(-1)
    if per_example and per_row.dim() == 1:   # one row per example (sequence classification)
        return per_row
    return _masked_mean(per_row, mask, per_example)


def soft_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float,
            mask: torch.Tensor | None = None) -> torch.Tensor:
    """MERGE's soft-label term: tau^2 * KL(softmax(t/tau) || softmax(s/tau)), averaged over real tokens."""
    log_t = F.log_softmax(teacher_logits / temperature, dim=-1)
    log_s = F.log_softmax(student_logits / temperature, dim=-1)
    per_row = (log_t.exp() * (log_t - log_s)).sum(-1)
    return temperature ** 2 * _masked_mean(per_row, mask)


def cosine_embedding(final_hidden: torch.Tensor, next_embeddings: torch.Tensor,
                     mask: torch.Tensor | None = None) -> torch.Tensor:
    """MERGE's resending term: 1 - cos(h_t, e_{t+1}) averaged over positions t with a real next token
    (final_hidden and next_embeddings are already aligned: row t of each)."""
    return _masked_mean(1 - F.cosine_similarity(final_hidden, next_embeddings, dim=-1), mask)


def embedding_mse(final_hidden: torch.Tensor, next_embeddings: torch.Tensor,
                  mask: torch.Tensor | None = None) -> torch.Tensor:
    """MERGE's word-embedding MSE: ||h_t - e_{t+1}||^2 per coordinate, over positions with a real next token."""
    return _masked_mean((final_hidden - next_embeddings) ** 2, mask)


def token_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Next-token cross-entropy: logits at t against labels at t+1 (as Hugging Face causal LMs do)."""
    shifted, targets = logits[:, :-1], labels[:, 1:]
    return F.cross_entropy(shifted.reshape(-1, shifted.shape[-1]), targets.reshape(-1), ignore_index=ignore_index)
