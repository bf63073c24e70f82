"""Small causal language models for data-to-text: tokenizer, training, greedy generation, built-in model."""

from privformers.lazy import lazy_exports

_EXPORTS = {
    "builtin_model_path": "builtin",
    "generate_texts": "generate",
    "SEPARATOR": "prompt",
    "format_prompt": "prompt",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
