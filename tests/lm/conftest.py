"""A tiny E2E-like fixture file and a tiny trained model shared by the lm tests."""

from __future__ import annotations

import pytest

from privformers.lm.model import ModelShape
from privformers.lm.train import TrainConfig, train_lm

NAMES = ["Alimentum", "The Eagle", "Fitzbillies", "The Punter", "Zizzi", "Cotto", "Aromi", "Bibimbap House"]
AREAS = ["city centre", "riverside"]


def write_fixture(path) -> None:
    """A CSV of 16 MRs with two templated references each."""
    rows = ["mr,ref"]
    for i, name in enumerate(NAMES * 2):
        area = AREAS[i % 2]
        mr = f"name[{name}], area[{area}], customer rating[{i}]"
        rows.append(f'"{mr}","{name} is in the {area}."')
        rows.append(f'"{mr}","In the {area} you find {name}."')
    path.write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "tiny_e2e.csv"
    write_fixture(path)
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    config = TrainConfig(
        data=str(tiny_data),
        out=str(out),
        vocab_size=300,
        shape=ModelShape(1, 32, 2, 64, 0.0),
        epochs=2,
        batch_size=8,
        warmup_steps=2,
        eval_every=1,
        max_new_tokens=12,
        validation_fraction=0.125,
        test_fraction=0.125,
    )
    summary = train_lm(config)
    return out, summary


@pytest.fixture(scope="session")
def tiny_delex_model(tmp_path_factory):
    from tests.delex_helpers import train_tiny_delex_model

    return train_tiny_delex_model(tmp_path_factory.mktemp("delex"))
