"""Suppressed tokens: the client lowers them in its own share of the logits (``sampling.suppressed``), so
private generation never chooses them, as plaintext greedy decoding with the same list does; the other
parties' shares are untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import GenerationConfig

from privformers.generation import InProcess, generate
from privformers.generation.sampling import suppressed
from privformers.models.plain import SUPPRESSED_LOGIT, plain_greedy
from privformers.mpc.party import CLIENT, SERVER
from privformers.mpc.ring import FixedPoint
from privformers.mpc.shares import AShare
from tests.generation.helpers import SPEC, plain_model, save_model

PROMPT = [5, 17, 42, 8]
OTHER = [9, 3, 77, 21, 40, 11]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model(tmp_path_factory.mktemp("suppress") / "m", SPEC)


def test_suppressed_tokens_are_never_chosen_and_plaintext_agrees(folder: Path) -> None:
    free = plain_greedy(plain_model(), PROMPT, 3)[0]
    other = plain_greedy(plain_model(), OTHER, 3)[0]
    banned = [free[0], free[1]]            # the tokens greedy decoding would choose first
    expected, gaps = plain_greedy(plain_model(), PROMPT, 3, suppress=banned)
    assert expected[0] not in banned and min(gaps) > 0.05, (expected, gaps)
    out = generate(folder, [PROMPT, OTHER], GenerationConfig(max_new_tokens=3), parties=InProcess(),
                   suppress=[banned, []])
    assert out.token_ids == [expected, other]     # the second row, with nothing suppressed, is unchanged
    # GenerationConfig.suppress_tokens holds for every prompt
    both = generate(folder, [PROMPT], GenerationConfig(max_new_tokens=3, suppress_tokens=banned), parties=InProcess())
    assert both.token_ids == [expected]
    # negative control: without the list the banned token is what generation chooses
    assert generate(folder, PROMPT, GenerationConfig(max_new_tokens=1), parties=InProcess()).token_ids == [[free[0]]]


def test_only_the_clients_share_changes_and_only_at_the_banned_ids() -> None:
    fp = FixedPoint(16)

    class Party:
        def __init__(self, role: str) -> None:
            self.role, self.fp, self.symbolic = role, fp, False

    data = torch.randint(-2**40, 2**40, (2, 6), dtype=torch.int64)
    server = AShare(Party(SERVER), data)
    assert suppressed(server, [[1], [2, 5]]) is server           # the server gives no list and changes nothing
    client = suppressed(AShare(Party(CLIENT), data), [[1], [2, 5]])
    diff = data - client.data
    penalty = int(fp.encode(torch.tensor(SUPPRESSED_LOGIT)))
    expected = torch.zeros_like(data)
    expected[0, 1] = expected[1, 2] = expected[1, 5] = penalty
    assert torch.equal(diff, expected)
    with pytest.raises(ValueError, match=r"must lie in \[0, 6\)"):
        suppressed(AShare(Party(CLIENT), data), [[6], []])
    with pytest.raises(ValueError, match="2 rows of logits"):
        suppressed(AShare(Party(CLIENT), data), [[1]])


def test_out_of_range_ids_are_refused_before_any_party_starts(folder: Path) -> None:
    with pytest.raises(ValueError, match="suppressed token ids must lie in"):
        generate(folder, PROMPT, GenerationConfig(max_new_tokens=1), parties=InProcess(), suppress=[[10**6]])
    with pytest.raises(ValueError, match="suppressed tokens for 2 prompts, but 1 prompts"):
        generate(folder, PROMPT, GenerationConfig(max_new_tokens=1), parties=InProcess(), suppress=[[1], [2]])
