"""Private generation with streamed material: the same tokens and online messages as with all
material made first, at most the budget (or one larger item) held ahead; a bad budget is refused."""

from __future__ import annotations

import pytest

from privformers.cli import main
from privformers.generation.program import generate_program
from privformers.models.plain import plain_greedy
from privformers.mpc.session import run_local
from tests.cli_helpers import run_cli
from tests.generation.helpers import SPEC, plain_model

PROMPT = [5, 17, 42, 8, 9, 3]


def test_streamed_generation_equals_the_precomputed_run() -> None:
    want, gaps = plain_greedy(plain_model(), PROMPT, 3)
    assert min(gaps) > 0.05  # the MPC error cannot flip a choice
    full = run_local(generate_program(SPEC.factory, SPEC.weights, PROMPT, 3))
    budget = 32 << 10
    streamed = run_local(generate_program(SPEC.factory, SPEC.weights, PROMPT, 3, material_budget=budget))
    assert streamed.results["client"]["tokens"] == full.results["client"]["tokens"] == want
    for role in ("client", "server"):
        a, b = streamed.meters[role].summary(), full.meters[role].summary()
        assert (a["online_bytes"], a["online_rounds"]) == (b["online_bytes"], b["online_rounds"])
        stream = streamed.parties[role].material_stream
        assert 0 < stream["peak"] <= max(budget, stream["largest"]), stream
        assert stream["peak"] * 4 < stream["total"], stream
    assert full.parties["client"].material_stream is None


def test_a_bad_budget_is_refused(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(ValueError, match="positive"):
        generate_program(SPEC.factory, SPEC.weights, PROMPT, 2, material_budget=0)
    code, _, err = run_cli(["generate", "--prompt-ids", "5,6", "--material-budget-mb", "0"], capsys)
    assert code == 2 and "argument --material-budget-mb: expected a finite number > 0, got '0'" in err
    assert main(["generate", "--prompt-ids", "5,6", "--material-budget-mb", "8", "--server", "127.0.0.1:1",
                 "--dealer", "127.0.0.1:2"]) == 2
    assert "for local parties" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "sweep", "--random-weights", "--material-budget-mb", "-1"])
