"""Reading a ``transformers.GenerationConfig`` for private generation: what we do, and a clear error
naming every field we do not.

Supported: ``max_new_tokens``, ``do_sample``, ``temperature``, ``top_k``, ``top_p``,
``eos_token_id`` (an id or a list), ``stop_strings`` (the client cuts its text there; with
``stop_early`` the session also ends there) and ``suppress_tokens`` (ids never chosen: the client
lowers them in its own share of the logits, so they stay its secret). Fields with no effect on the
tokens (ids of special tokens, output flags, ``use_cache``) are accepted. Any other field set to a
value that would change the tokens (beams, repetition penalties, ``min_new_tokens``, ...) is refused by name: silently
ignoring it would give different text than the user asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transformers import GenerationConfig

SUPPORTED = {"max_new_tokens", "do_sample", "temperature", "top_k", "top_p", "eos_token_id", "stop_strings",
             "suppress_tokens"}
NO_EFFECT = {"transformers_version", "_from_model_config", "pad_token_id", "bos_token_id", "decoder_start_token_id",
             "use_cache", "output_attentions", "output_hidden_states", "output_scores", "output_logits",
             "return_dict_in_generate", "max_length", "cache_implementation", "compile_config", "disable_compile"}


def hf_defaults() -> dict:
    """The values transformers applies to unset (None) fields."""
    defaults = getattr(GenerationConfig, "_get_default_generation_params", None)
    base = defaults() if callable(defaults) else {}
    return {"do_sample": False, "temperature": 1.0, "top_k": 50, "top_p": 1.0, "num_beams": 1, **base}


@dataclass(frozen=True)
class Decoding:
    """What a GenerationConfig asks of private generation. sampling: None (greedy) or temperature,
    top_k (None: no cut) and top_p (None: no cut); stop_ids and stop_strings: where the client
    cuts its text (kept on the client; the server sees them only through ``stop_early``)."""

    max_new_tokens: int
    sampling: dict | None
    stop_ids: tuple[int, ...]
    stop_strings: tuple[str, ...]
    suppress: tuple[int, ...] = ()


def model_generation_config(path: str | Path | None) -> GenerationConfig | None:
    """The ``generation_config.json`` saved in a model folder, if there is one."""
    if path is None or not (Path(path) / "generation_config.json").is_file():
        return None
    return GenerationConfig.from_pretrained(path)


def merged(base: GenerationConfig | None, given: GenerationConfig | None) -> GenerationConfig:
    """The model's saved config with the caller's set fields over it (as ``model.generate`` does)."""
    if base is None:
        return given or GenerationConfig()
    if given is None:
        return base
    values = {k: v for k, v in base.to_dict().items() if v is not None}
    values.update({k: v for k, v in given.to_dict().items() if v is not None})
    values.pop("transformers_version", None)
    return GenerationConfig(**values)


def decoding_of(config: GenerationConfig) -> Decoding:
    """Check a config and say what it asks for; ValueError naming each unsupported field."""
    defaults = hf_defaults()
    unsupported = []
    for key, value in config.to_dict().items():
        if value is None or key in SUPPORTED or key in NO_EFFECT or value == defaults.get(key, None):
            continue
        if key in defaults or value not in ({}, [], (), False, 0):
            unsupported.append(f"{key}={value!r}")
    if unsupported:
        raise ValueError(f"GenerationConfig fields not supported in private generation: {', '.join(unsupported)} "
                         f"(supported: {', '.join(sorted(SUPPORTED))})")
    if config.max_new_tokens is None:
        raise ValueError("set GenerationConfig.max_new_tokens (the number of tokens is public and fixed)")
    if type(config.max_new_tokens) is not int or config.max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an integer >= 1, got {config.max_new_tokens!r}")
    value = lambda key: defaults[key] if getattr(config, key) is None else getattr(config, key)  # noqa: E731
    sampling = None
    if value("do_sample"):
        temperature, top_k, top_p = float(value("temperature")), int(value("top_k")), float(value("top_p"))
        if not 0 < temperature < float("inf"):
            raise ValueError(f"temperature must be positive, got {temperature}")
        if top_k < 0 or not 0 < top_p <= 1:
            raise ValueError(f"need top_k >= 0 (0: no cut) and 0 < top_p <= 1, got {top_k} and {top_p}")
        sampling = {"temperature": temperature, "top_k": top_k or None, "top_p": None if top_p >= 1 else top_p}
    eos = config.eos_token_id
    stop_ids = () if eos is None else tuple(int(t) for t in ([eos] if isinstance(eos, int) else eos))
    strings = config.stop_strings
    stop_strings = () if not strings else ((strings,) if isinstance(strings, str) else tuple(strings))
    suppress = tuple(int(t) for t in (config.suppress_tokens or ()))
    return Decoding(config.max_new_tokens, sampling, stop_ids, stop_strings, suppress)


def cut(tokens: list[int], stop_ids: tuple[int, ...]) -> list[int]:
    """The tokens up to and including the first stop id (as ``model.generate`` returns them)."""
    for i, t in enumerate(tokens):
        if t in stop_ids:
            return tokens[:i + 1]
    return tokens
