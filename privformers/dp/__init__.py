"""Differentially private fine-tuning: privacy engine, per-layer clipping rules, accounting.

Names are imported on first use, so `privformers --help` and party processes stay fast.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PrivacyEngine", "register_rule"]


def __getattr__(name: str) -> Any:
    if name == "PrivacyEngine":
        from privformers.dp.engine import PrivacyEngine

        return PrivacyEngine
    if name == "register_rule":
        from privformers.dp.registry import register_rule

        return register_rule
    raise AttributeError(name)
