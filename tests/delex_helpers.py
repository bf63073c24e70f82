"""A tiny delexicalised E2E-like model (name -> XNAME) for tests of the client-side delexicalisation."""

from __future__ import annotations

from pathlib import Path

NAMES = ["Alimentum", "The Eagle", "Fitzbillies", "The Punter", "Zizzi", "Cotto", "Aromi", "Bibimbap House"]
AREAS = ["city centre", "riverside"]
UNSEEN = "name[Blue Spice], area[riverside], customer rating[3]"   # a name the model was not trained on


def write_delex_data(path: Path) -> Path:
    """16 MRs, two references each, every text beginning with the restaurant's name."""
    rows = ["mr,ref"]
    for i, name in enumerate(NAMES * 2):
        mr = f"name[{name}], area[{AREAS[i % 2]}], customer rating[{i}]"
        rows += [f'"{mr}","{name} is in the {AREAS[i % 2]}."', f'"{mr}","{name} is a place in the {AREAS[i % 2]}."']
    path.write_text("\n".join(rows) + "\n")
    return path


def train_tiny_delex_model(folder: Path) -> Path:
    """Train (a few seconds) a 1-layer GPT-2 whose texts begin with the name: ``XNAME is in the <area>.``;
    its folder records the delexicalisation of ``name``."""
    from privformers.lm.model import ModelShape
    from privformers.lm.train import TrainConfig, train_lm

    folder.mkdir(parents=True, exist_ok=True)
    write_delex_data(folder / "data.csv")
    out = folder / "model"
    train_lm(TrainConfig(data=str(folder / "data.csv"), out=str(out), vocab_size=300,
                         shape=ModelShape(1, 32, 2, 64, 0.0), epochs=6, batch_size=8, warmup_steps=2, eval_every=6,
                         max_new_tokens=8, validation_fraction=0.125, test_fraction=0.125, learning_rate=1e-2,
                         delex=("name",)))
    return out
