"""Small causal language models for data-to-text: tokenizer, training, greedy generation, built-in model."""

from typing import TYPE_CHECKING

from privformers.lazy import lazy_exports

_EXPORTS = {
    "builtin_model_path": "builtin",
    "generate_texts": "generate",
    "SEPARATOR": "prompt",
    "format_prompt": "prompt",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:   # the lazy names' real definitions, for IDEs and type checkers (never run)
    from privformers.lm.builtin import builtin_model_path as builtin_model_path
    from privformers.lm.generate import generate_texts as generate_texts
    from privformers.lm.prompt import SEPARATOR as SEPARATOR
    from privformers.lm.prompt import format_prompt as format_prompt
