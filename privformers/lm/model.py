"""A small GPT-2-architecture model sized for secure computation (few layers, narrow, short context)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import GPT2LMHeadModel


@dataclass
class ModelShape:
    """Size of the GPT-2 model: layers, width, heads, context length, dropout."""

    n_layer: int = 4
    n_embd: int = 192
    n_head: int = 4
    n_positions: int = 128
    dropout: float = 0.1


def build_gpt2(shape: ModelShape, vocab_size: int, eos_token_id: int) -> GPT2LMHeadModel:
    """A freshly initialised ``GPT2LMHeadModel`` with tied input/output embeddings."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=shape.n_positions,
        n_embd=shape.n_embd,
        n_layer=shape.n_layer,
        n_head=shape.n_head,
        resid_pdrop=shape.dropout,
        embd_pdrop=shape.dropout,
        attn_pdrop=shape.dropout,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=eos_token_id,
        tie_word_embeddings=True,
    )
    return GPT2LMHeadModel(config)
