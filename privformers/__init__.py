"""privformers: privacy-preserving transformer language models.

Two halves: secure two-party inference and generation (``privformers.mpc``,
``privformers.secure``, ``privformers.generation``) and differentially private
fine-tuning (``privformers.dp``).
"""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``privformers.approximate`` without importing torch at ``import privformers``."""
    if name == "approximate":
        from privformers.approx import approximate

        return approximate
    raise AttributeError(f"module 'privformers' has no attribute {name!r}")
