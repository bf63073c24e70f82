"""Differentially private fine-tuning: privacy engine, per-layer clipping rules, accounting."""

from privformers.dp.engine import PrivacyEngine
from privformers.dp.registry import register_rule

__all__ = ["PrivacyEngine", "register_rule"]
