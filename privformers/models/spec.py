"""A model to run: its public architecture (and approximation recipe, if any) and a way for the server to get
the weights. Client and dealer read only the architecture; the server alone reads the weights.

``load.py`` makes specs from a ``save_pretrained`` folder, a public config or a program's arguments;
``random_weights.py`` makes seeded random-weight ones (tests, benchmarks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers import PretrainedConfig

from privformers.approx.recipes import Recipe
from privformers.hf import auto_class

_INIT = threading.Lock()  # parties as threads share torch's global RNG: seeded weights need it alone


@dataclass
class ModelSpec:
    """A public architecture (with its approximation recipe, if any) and a way for the server to
    get the weights."""

    config: PretrainedConfig
    weights: Callable[[], dict[str, torch.Tensor]]
    recipe: Recipe | None = None

    def __post_init__(self) -> None:
        """A config the secure runtime cannot run fails here, naming the feature, before any party connects."""
        from privformers.models.support import check_supported

        check_supported(self.config)

    def factory(self) -> torch.nn.Module:
        """The architecture with placeholder weights (eager attention), converted by the recipe."""
        from privformers.approx.convert import approximate  # conversion code loads on use

        with _INIT:
            model = auto_class(self.config).from_config(self.config, attn_implementation="eager").eval()
            return model if self.recipe is None else approximate(model, self.recipe, inplace=True)

    @property
    def context(self) -> int:
        """The longest sequence the model accepts (positions)."""
        c = self.config
        return int(getattr(c, "n_positions", None) or getattr(c, "max_position_embeddings", 0))


PRIVATE_CONFIG_KEYS = ("_name_or_path", "_commit_hash")   # where the server keeps the model: not architecture


def public_config(config: PretrainedConfig) -> dict:
    """The architecture as plain JSON data, for the parties that hold no weights (without the server's
    folder path, which a loaded config remembers)."""
    return {k: v for k, v in config.to_dict().items() if k not in PRIVATE_CONFIG_KEYS}


def public_spec(spec: ModelSpec) -> dict:
    """What the parties without the weights need, as plain JSON data: the architecture (``hf_config``)
    and the approximation recipe of a student (``recipe``, None for an unconverted model). The local
    launcher gives this to the client and the dealer instead of the model folder's path, and a
    ``serve`` server sends it to its clients; ``load.from_args`` reads it back."""
    return {"hf_config": public_config(spec.config), "recipe": None if spec.recipe is None else spec.recipe.to_dict()}


class PromptTooLongError(ValueError):
    """The prompt plus the new tokens do not fit the model's context."""


def check_length(spec: ModelSpec, prompt_len: int, max_new_tokens: int) -> None:
    """Raise PromptTooLongError unless prompt_len + max_new_tokens <= the model's context
    (encoder-decoders: the prompt and the decoded tokens each within it), and within the side of
    the Merge Module matrices for a model converted with one."""
    seq2seq = spec.config.is_encoder_decoder
    longest = max(prompt_len, max_new_tokens + 1) if seq2seq else prompt_len + max_new_tokens
    if spec.recipe is not None and spec.recipe.merge:
        from privformers.approx.convert import merge_len  # conversion code: only for a Merge Module

        if longest > merge_len(spec.config, spec.recipe):
            raise PromptTooLongError(f"{longest} positions exceed the Merge Module's "
                                     f"{merge_len(spec.config, spec.recipe)} (recipe option merge_max_len)")
    if seq2seq:
        if spec.context and longest > spec.context:
            raise PromptTooLongError(f"prompt of {prompt_len} tokens or {max_new_tokens} new tokens exceed the "
                                     f"model's context of {spec.context} positions")
        return
    if spec.context and max_new_tokens >= spec.context:
        raise PromptTooLongError(f"{max_new_tokens} new tokens do not fit: the model's context is {spec.context} "
                                 f"positions, so a prompt of {prompt_len} tokens leaves room for at most "
                                 f"{max(spec.context - prompt_len, 0)} new tokens")
    if spec.context and prompt_len + max_new_tokens > spec.context:
        raise PromptTooLongError(f"prompt of {prompt_len} tokens is too long: the model's context is "
                                 f"{spec.context} positions, so with {max_new_tokens} new tokens the prompt may "
                                 f"have at most {spec.context - max_new_tokens} tokens")
