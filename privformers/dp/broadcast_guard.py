"""Refuse parameters whose output is broadcast over the batch: their per-example gradients are lost.

T5's relative attention bias is computed once, shape (1, heads, q, k), and added to every
example's scores, so only the batch-summed gradient ever exists. Such parameters must be frozen.
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
            "these parameters are added to every example at once, so their per-example gradients do "
            f"not exist; freeze them (requires_grad=False) before attaching: {', '.join(bad)}")
