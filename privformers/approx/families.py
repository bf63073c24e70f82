"""The supported model families: which modules compute attention and how each takes a Merge Module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class Family:
    """A family's attention module classes (softmax replaced inside) and its Merge Module converter."""

    name: str
    attention: tuple[type, ...]
    merge: Callable[[nn.Module, int, str], None]


def _gpt2() -> Family:
    from transformers.models.gpt2.modeling_gpt2 import GPT2Attention

    from privformers.approx.merge import gpt2

    return Family("gpt2", (GPT2Attention,), gpt2.convert)


def _bert() -> Family:
    from transformers.models.bert.modeling_bert import BertCrossAttention, BertSelfAttention

    from privformers.approx.merge import bert

    return Family("bert", (BertSelfAttention, BertCrossAttention), _self_only(bert.convert, BertCrossAttention))


def _roberta() -> Family:
    from transformers.models.roberta.modeling_roberta import RobertaCrossAttention, RobertaSelfAttention

    from privformers.approx.merge import bert

    return Family("roberta", (RobertaSelfAttention, RobertaCrossAttention),
                  _self_only(bert.convert, RobertaCrossAttention))


def _bart() -> Family:
    from transformers.models.bart.modeling_bart import BartAttention

    from privformers.approx.merge import bart

    return Family("bart", (BartAttention,), bart.convert)


def _t5() -> Family:
    from transformers.models.t5.modeling_t5 import T5Attention

    from privformers.approx.merge import t5

    return Family("t5", (T5Attention,), t5.convert)


def _self_only(convert: Callable[[nn.Module, int, str], None], cross: type) -> Callable[[nn.Module, int, str], None]:
    def run(module: nn.Module, max_len: int, variant: str) -> None:
        if isinstance(module, cross):
            raise NotImplementedError(f"Merge Module: {type(module).__name__} (decoder cross-attention) "
                                      "is not supported")
        convert(module, max_len, variant)

    return run


FAMILIES: dict[str, Callable[[], Family]] = {"gpt2": _gpt2, "bert": _bert, "roberta": _roberta, "bart": _bart,
                                             "t5": _t5}


def family_of(model: nn.Module) -> Family:
    """The family of a Hugging Face model (by config.model_type); clear error when unsupported."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in FAMILIES:
        raise ValueError(f"approximations support model types {sorted(FAMILIES)}, not {model_type!r}")
    return FAMILIES[model_type]()
