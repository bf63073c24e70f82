"""Public keep-masks (True = may attend) from Hugging Face's additive attention masks."""

from __future__ import annotations

import torch

MASKED_BELOW = -1e4  # additive mask entries below this mean "masked out" (HF uses the dtype's minimum)


def keep_from_additive(mask: torch.Tensor | None) -> torch.Tensor | None:
    """The boolean keep-mask of an additive (or boolean) attention mask; None stays None."""
    if mask is None:
        return None
    if mask.dtype == torch.bool:
        return mask
    return mask > MASKED_BELOW


def causal_keep(q_start: int, q_len: int, kv_len: int) -> torch.Tensor:
    """(1, 1, q_len, kv_len) keep-mask: query at position q_start + i sees keys 0 ... q_start + i."""
    rows = torch.arange(q_start, q_start + q_len)[:, None]
    return (torch.arange(kv_len)[None, :] <= rows)[None, None]
