"""Location of the built-in GPT-2-architecture E2E model shipped inside the package."""

from __future__ import annotations

from pathlib import Path

BUILTIN_MODEL_NAME = "builtin-e2e-gpt2"


def builtin_model_path() -> Path:
    """Folder of the shipped model (``save_pretrained`` form, loadable by ``AutoModelForCausalLM``)."""
    path = Path(__file__).resolve().parent.parent / "assets" / BUILTIN_MODEL_NAME
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"built-in model missing at {path}; rebuild it with `privformers train-lm` (see docs)"
        )
    return path
