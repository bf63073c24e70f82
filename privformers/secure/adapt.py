"""What every party does to a model's architecture before its weights become server-held.

``adapt`` runs the folds (``fold.py``: LayerNorm affines, attention scaling, RMSNorm weights) and switches
Llama-family attention to the grouped implementation (``attention.py``). Only the server's weights are
real; the other parties make the same changes on placeholders, so every party runs the same program.
``check_supported`` (``privformers.models.support``) refuses the configurations the runtime cannot run, naming
the feature; it runs here (setup) and, before any party connects, wherever a model spec is made
(``privformers.models.spec``).
"""

from __future__ import annotations

from torch import nn
from transformers import PretrainedConfig

from privformers.models.support import UnsupportedConfigError, check_supported
from privformers.secure.attention import use_secure_attention
from privformers.secure.fold import fold_attention_scaling, fold_layer_norms, fold_rms_norms

__all__ = ["UnsupportedConfigError", "adapt", "check_supported"]


def adapt(model: nn.Module) -> nn.Module:
    """Fold norms and scalings into the server's weights and switch to secure attention, in place."""
    config = getattr(model, "config", None)
    if isinstance(config, PretrainedConfig):
        check_supported(config)
    fold_layer_norms(model)
    fold_attention_scaling(model)
    fold_rms_norms(model)
    use_secure_attention(model)
    return model
