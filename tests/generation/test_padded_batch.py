"""Prompts of different lengths share a padded pass: each row's tokens equal that prompt's own greedy
tokens, and the server's view depends on the padded width and the batch size only."""

from __future__ import annotations

import pytest
import torch

from privformers.approx import approximate
from privformers.approx.convert import recipe_of
from privformers.generation.padding import PaddingUnsupported, check_paddable
from privformers.generation.program import batch_run, setup_model
from privformers.models.plain import plain_greedy
from privformers.mpc.party import CLIENT, SERVER
from privformers.mpc.session import Program, run_local
from privformers.mpc.transport import local as local_transport
from privformers.secure import key_mask
from tests.generation.helpers import SPEC, plain_model

PROMPTS = [[5, 17, 42, 8], [9, 3, 77, 21, 40, 11], [60, 50]]
WIDTH = 6


def padded_run(prompts: list[list[int]], n: int, width: int = WIDTH, **options) -> dict:
    def run(party, model):
        rows = prompts if party.role == CLIENT else [[0] * width] * len(prompts)
        return batch_run(party, model, rows, n, padded_to=width, **options)

    return run_local(Program(run=run, setup=lambda party: setup_model(party, SPEC.factory, SPEC.weights))).results


def references(prompts: list[list[int]], n: int) -> list[list[int]]:
    model = plain_model()
    out = []
    for p in prompts:
        tokens, gaps = plain_greedy(model, p, n)
        assert min(gaps) > 0.05, (p, gaps)   # the MPC error cannot flip a choice
        out.append(tokens)
    return out


@pytest.mark.parametrize("use_cache", [True, False])
def test_each_padded_row_equals_its_prompt_alone(use_cache: bool) -> None:
    results = padded_run(PROMPTS, 3, use_cache=use_cache)
    assert results[CLIENT]["tokens"] == references(PROMPTS, 3)
    assert results[SERVER]["tokens"] is None


def test_negative_control_without_the_secret_mask_padded_rows_go_wrong(monkeypatch) -> None:
    """The mask is what keeps the padding out of attention: with it disabled the short rows change."""
    monkeypatch.setattr(key_mask, "apply_key_mask", lambda scores, keep: scores)
    monkeypatch.setattr("privformers.secure.ops.softmax.apply_key_mask", lambda scores, keep: scores)
    tokens = padded_run(PROMPTS, 3)[CLIENT]["tokens"]
    refs = references(PROMPTS, 3)
    assert tokens[1] == refs[1]            # the full-width row has no padding
    assert tokens[0] != refs[0] or tokens[2] != refs[2]


def _server_view(prompts: list[list[int]], monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[tuple, str]]]:
    """(shape, dtype) of every message the server receives, in order, per link (client's and dealer's)."""
    seen: dict[int, list[tuple[tuple, str]]] = {}
    original = local_transport.LocalChannel.send

    def send(self, msg):
        if self.peer == SERVER and isinstance(msg, torch.Tensor):
            seen.setdefault(id(self), []).append((tuple(msg.shape), str(msg.dtype)))
        return original(self, msg)

    monkeypatch.setattr(local_transport.LocalChannel, "send", send)
    padded_run(prompts, 2)
    monkeypatch.undo()
    return sorted(seen.values())


def test_the_servers_view_does_not_depend_on_the_lengths(monkeypatch) -> None:
    """Every message the server receives has the same shape and type for lengths (4, 6, 2) as for
    (6, 6, 6): the lengths reach it in no form but the values, which are masked as everywhere else."""
    short = _server_view(PROMPTS, monkeypatch)
    full = _server_view([[1, 2, 3, 4, 5, 6]] * 3, monkeypatch)
    assert short == full and len(short) == 2 and min(map(len, short)) > 20


def test_models_that_cannot_pad_say_why() -> None:
    with pytest.raises(PaddingUnsupported, match="encoder-decoder"):
        check_paddable(type("C", (), {"model_type": "bart", "is_encoder_decoder": True})(), None)
    with pytest.raises(PaddingUnsupported, match="not supported for model type 'opt'"):
        check_paddable(type("C", (), {"model_type": "opt", "is_encoder_decoder": False})(), None)
    student = approximate(plain_model(), "mpcformer-quad-2quad")
    with pytest.raises(PaddingUnsupported, match="exact softmax"):
        check_paddable(student.config, recipe_of(student))
