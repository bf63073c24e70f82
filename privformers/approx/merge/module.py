"""MERGE's Merge Module: attention weights that do not depend on the input.

Per attention layer and head a learned matrix M (max_len x max_len, initialised to ones)
replaces softmax(Q K^T); the weights of query position i over key position j are
  variant "masked": softmax over the kept entries of row i of M (rows sum to 1);
  variant "zeroed": softmax over the whole row i of M, then masked entries set to 0
                    (MERGE's released code; rows sum to at most 1).
Q and K are no longer needed. The weights depend only on M (the server's) and on public
positions and masks, so under MPC the server computes them in the clear ahead of the input
and the attention output is one product of a server-known matrix with the secret values.
"""

from __future__ import annotations

import torch
from torch import nn

from privformers.approx.overridable import overridable

VARIANTS = ("masked", "zeroed")


def merge_weights(m: torch.Tensor, q_start: int, q_len: int, kv_len: int, keep: torch.Tensor | None,
                  variant: str) -> torch.Tensor:
    """Attention weights (..., heads, q_len, kv_len) for query positions q_start ... q_start + q_len - 1."""
    heads, max_len, _ = m.shape
    if q_start + q_len > max_len or kv_len > max_len:
        raise ValueError(f"sequence of {max(q_start + q_len, kv_len)} positions exceeds the merge module's "
                         f"max length {max_len} (recipe option merge_max_len)")
    rows = m[:, q_start:q_start + q_len, :]
    if variant == "masked":
        logits = rows[..., :kv_len]
        if keep is not None:
            logits = torch.where(keep, logits, float("-inf"))
        return torch.softmax(logits, -1).nan_to_num(0.0)  # a row with nothing kept: all zeros
    if variant == "zeroed":
        p = torch.softmax(rows, -1)[..., :kv_len]
        return p if keep is None else p * keep
    raise ValueError(f"unknown merge module variant {variant!r}; expected one of {VARIANTS}")


@overridable
def merge_attention(value: torch.Tensor, m: torch.Tensor, q_start: int, q_len: int, keep: torch.Tensor | None,
                    variant: str, memo: dict | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(weights @ value, weights) for values (batch, heads, kv_len, head_dim); weights as ``merge_weights``.

    Under MPC the weights stay with the server and None is returned in their place; ``memo``
    (a dict kept with the layer's KV cache, or None) lets the protocol mask cached values once."""
    w = merge_weights(m, q_start, q_len, value.shape[-2], keep, variant)
    w = w.expand(*value.shape[:-3], *w.shape[-3:]).to(value.dtype)
    return w @ value, w


class MergeModule(nn.Module):
    """The learned matrix M (heads x max_len x max_len, ones at first) and the variant that reads it."""

    def __init__(self, heads: int, max_len: int, variant: str = "zeroed") -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown merge module variant {variant!r}; expected one of {VARIANTS}")
        self.variant = variant
        self.M = nn.Parameter(torch.ones(heads, max_len, max_len))

    def forward(self, value: torch.Tensor, q_start: int, q_len: int, keep: torch.Tensor | None,
                memo: dict | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        return merge_attention(value, self.M, q_start, q_len, keep, self.variant, memo)

    def extra_repr(self) -> str:
        h, n, _ = self.M.shape
        return f"heads={h}, max_len={n}, variant={self.variant!r}"
