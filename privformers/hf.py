"""What privformers reads off a Hugging Face config: the Auto class that builds its model, and the token an
encoder-decoder's decoder starts from.

Plain helpers with no privformers imports: ``privformers.approx`` (student checkpoints, Embedding Resending)
needs them as well as ``privformers.models``, which sits above it. Importing this module loads nothing of
transformers (the command line imports modules that import it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PretrainedConfig


def auto_class(config: PretrainedConfig) -> type:
    """The Auto class for a config: a sequence classifier when its architectures name one,
    else a sequence-to-sequence LM for encoder-decoders and a causal LM otherwise. (The model classes
    load on first use: the launcher checks a model without them.)"""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification

    if any(a.endswith("ForSequenceClassification") for a in getattr(config, "architectures", None) or ()):
        return AutoModelForSequenceClassification
    return AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM


def decoder_start(config: PretrainedConfig) -> int:
    """The token an encoder-decoder's decoder starts from (T5: the pad token)."""
    for name in ("decoder_start_token_id", "pad_token_id"):
        value = getattr(config, name, None)
        if value is not None:
            return int(value)
    return 0
