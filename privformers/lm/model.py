"""Small decoder models sized for secure computation (few layers, narrow, short context): GPT-2 or Llama
architecture (``ModelShape.arch``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import GPT2LMHeadModel, LlamaForCausalLM, PreTrainedModel

ARCHS = ("gpt2", "llama")


@dataclass
class ModelShape:
    """Size of the model: layers, width, heads, context length, dropout; and its architecture.

    For ``llama``: ``n_kv_head`` key/value heads shared by the query heads (grouped-query attention;
    default half the heads), a gated SiLU MLP of width ``intermediate`` (default 3 x hidden: 576 at
    hidden 192, so that with its cheaper GQA attention the model has about the GPT-2 one's parameters),
    rotary positions, RMSNorm, no biases. GPT-2 ignores both (its MLP is 4 x hidden)."""

    n_layer: int = 4
    n_embd: int = 192
    n_head: int = 4
    n_positions: int = 128
    dropout: float = 0.1
    arch: str = "gpt2"
    n_kv_head: int | None = None
    intermediate: int | None = None

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"unknown architecture {self.arch!r}; choose one of {', '.join(ARCHS)}")
        if self.n_embd % self.n_head:
            raise ValueError(f"hidden size {self.n_embd} is not a multiple of the {self.n_head} heads")
        if self.arch == "llama" and self.n_head % self.kv_heads:
            raise ValueError(f"{self.n_head} heads are not a multiple of the {self.kv_heads} key/value heads")

    @property
    def kv_heads(self) -> int:
        """Key/value heads of a Llama model (grouped-query attention): ``n_kv_head``, else half the heads."""
        return self.n_kv_head if self.n_kv_head is not None else max(1, self.n_head // 2)

    @property
    def mlp_width(self) -> int:
        """Width of a Llama model's gated MLP: ``intermediate``, else 3 x hidden."""
        return self.intermediate if self.intermediate is not None else 3 * self.n_embd


def build_model(shape: ModelShape, vocab_size: int, eos_token_id: int) -> PreTrainedModel:
    """A freshly initialised causal LM of ``shape.arch`` with tied input/output embeddings."""
    if shape.arch == "llama":
        return build_llama(shape, vocab_size, eos_token_id)
    return build_gpt2(shape, vocab_size, eos_token_id)


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


def build_llama(shape: ModelShape, vocab_size: int, eos_token_id: int) -> LlamaForCausalLM:
    """A freshly initialised ``LlamaForCausalLM`` (rotary positions, RMSNorm, gated SiLU MLP, grouped-query
    attention, no biases) with tied input/output embeddings. Llama has dropout on attention weights only."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=shape.n_embd,
        intermediate_size=shape.mlp_width,
        num_hidden_layers=shape.n_layer,
        num_attention_heads=shape.n_head,
        num_key_value_heads=shape.kv_heads,
        head_dim=shape.n_embd // shape.n_head,
        max_position_embeddings=shape.n_positions,
        hidden_act="silu",
        attention_dropout=shape.dropout,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=eos_token_id,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config)


def context_length(config) -> int | None:
    """The longest sequence a causal LM's config allows (GPT-2 ``n_positions``, Llama
    ``max_position_embeddings``), or None when it names none."""
    return getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)
