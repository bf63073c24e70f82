"""Small causal language models for data-to-text: tokenizer, training, greedy generation, built-in model."""

from privformers.lm.builtin import builtin_model_path
from privformers.lm.generate import generate_texts
from privformers.lm.prompt import SEPARATOR, format_prompt

__all__ = ["SEPARATOR", "builtin_model_path", "format_prompt", "generate_texts"]
