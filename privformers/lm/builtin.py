"""Location of the built-in E2E models shipped inside the package: GPT-2 (the default model of the demos and
commands) and Llama architecture (``builtin_model_path("llama")``), both trained by ``privformers train-lm``."""

from __future__ import annotations

from pathlib import Path

BUILTIN_MODEL_NAME = "builtin-e2e-gpt2"
BUILTIN_MODEL_NAMES = {"gpt2": BUILTIN_MODEL_NAME, "llama": "builtin-e2e-llama"}


def builtin_model_path(arch: str = "gpt2") -> Path:
    """Folder of the shipped model of an architecture (``save_pretrained`` form, loadable by
    ``AutoModelForCausalLM``)."""
    if arch not in BUILTIN_MODEL_NAMES:
        raise ValueError(f"no built-in model of architecture {arch!r}; choose one of {', '.join(BUILTIN_MODEL_NAMES)}")
    path = Path(__file__).resolve().parent.parent / "assets" / BUILTIN_MODEL_NAMES[arch]
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"built-in model missing at {path}; rebuild it with `privformers train-lm` (see docs)"
        )
    return path
