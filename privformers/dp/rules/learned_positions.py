"""Learned position embeddings with an id offset (OPT, BART): an embedding of recomputed ids.

These subclasses of nn.Embedding compute position ids inside ``forward`` (plus an offset of 2), so
the rule is the embedding rule applied to ids recomputed from the call's arguments.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from transformers.models.bart.modeling_bart import BartLearnedPositionalEmbedding
from transformers.models.opt.modeling_opt import OPTLearnedPositionalEmbedding

from privformers.dp.pieces import Piece
from privformers.dp.registry import register_rule
from privformers.dp.rules.embedding import embedding


def _argument(args: tuple, kwargs: dict, index: int, name: str, default=None):
    return args[index] if len(args) > index else kwargs.get(name, default)


def opt_position_ids(module: nn.Module, args: tuple, kwargs: dict) -> Tensor:
    """Ids OPT looks up: cumulative attention mask minus one, from the cache length on, plus offset."""
    position_ids = _argument(args, kwargs, 2, "position_ids")
    if position_ids is None:
        mask = _argument(args, kwargs, 0, "attention_mask")
        past = _argument(args, kwargs, 1, "past_key_values_length", 0)
        position_ids = (torch.cumsum(mask, dim=1) * mask - 1).long()[:, past:]
    return position_ids + module.offset


def bart_position_ids(module: nn.Module, args: tuple, kwargs: dict) -> Tensor:
    """Ids BART looks up: positions from the cache length (one row shared by the batch), plus offset."""
    position_ids = _argument(args, kwargs, 2, "position_ids")
    if position_ids is not None:
        return position_ids.unsqueeze(0) + module.offset
    input_ids = _argument(args, kwargs, 0, "input_ids")
    past = _argument(args, kwargs, 1, "past_key_values_length", 0)
    seq_len = input_ids.shape[1]
    return torch.arange(past, past + seq_len, device=module.weight.device).unsqueeze(0) + module.offset


@register_rule(OPTLearnedPositionalEmbedding, capture=opt_position_ids)
def opt_positions(module: nn.Embedding, ids: Tensor, grad: Tensor) -> dict[str, Piece]:
    """The embedding rule on OPT's recomputed position ids."""
    return embedding(module, ids, grad)


@register_rule(BartLearnedPositionalEmbedding, capture=bart_position_ids)
def bart_positions(module: nn.Embedding, ids: Tensor, grad: Tensor) -> dict[str, Piece]:
    """The embedding rule on BART's recomputed position ids."""
    return embedding(module, ids, grad)
