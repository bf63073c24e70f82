"""ViT-style embeddings with isolated parameters: a [CLS] token and position embeddings.

e = dropout(cat(cls, patches) + pos), so with g the gradient of the dropout's input:
G_pos = g (per example) and G_cls = g[:, 0].
"""

from __future__ import annotations

from torch import Tensor, nn
from transformers.models.vit.modeling_vit import ViTEmbeddings

from privformers.dp.pieces import DensePiece, Piece
from privformers.dp.registry import register_rule


@register_rule(ViTEmbeddings, watch="dropout", grad_of="input")
def vit_embeddings(module: nn.Module, activation: Tensor, grad: Tensor) -> dict[str, Piece]:
    """Position embeddings and [CLS] token as dense per-example pieces."""
    pos = module.position_embeddings
    if grad.shape[1:] != pos.shape[1:]:
        raise ValueError("ViT rule needs the pretraining image size (no position interpolation)")
    pieces: dict[str, Piece] = {"position_embeddings": DensePiece(grad.unsqueeze(1))}
    pieces["cls_token"] = DensePiece(grad[:, :1].unsqueeze(1))
    return pieces
