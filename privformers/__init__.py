"""privformers: privacy-preserving transformer language models.

Two halves: secure two-party inference and generation (``privformers.mpc``,
``privformers.secure``, ``privformers.generation``) and differentially private
fine-tuning (``privformers.dp``).
"""

__version__ = "0.1.0"
