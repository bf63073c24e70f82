"""Differentially private fine-tuning: privacy engine, per-layer clipping rules, accounting."""

from privformers.lazy import lazy_exports

_EXPORTS = {
    "PrivacyEngine": "engine",
    "register_rule": "registry",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
