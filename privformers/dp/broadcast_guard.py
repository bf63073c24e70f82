"""Refuse parameters whose output is broadcast over the batch: hooks only see their batch-summed gradient.

T5's relative attention bias is computed once, shape (1, heads, q, k), and added to every example's
scores, so the gradient reaching it is already summed over the batch. Per-example gradients would
need that bias expanded per example inside ``T5Attention.compute_bias``; that is not implemented,
so such parameters must be frozen (T5's pretrained buckets are then kept as they are).
"""

from __future__ import annotations

from torch import nn

BROADCAST_ATTRIBUTES = ("relative_attention_bias",)


def check_no_broadcast_parameters(model: nn.Module) -> None:
    """Raise ValueError naming trainable parameters that are shared by the whole batch."""
    bad = []
    for name, module in model.named_modules():
        for attr in BROADCAST_ATTRIBUTES:
            sub = getattr(module, attr, None)
            if isinstance(sub, nn.Module) and any(p.requires_grad for p in sub.parameters()):
                bad.append(f"{name}.{attr}")
    if bad:
        raise ValueError(
            "these parameters are added to every example at once, so only their batch-summed gradient "
            f"is seen; freeze them (requires_grad=False) before attaching: {', '.join(bad)}")
