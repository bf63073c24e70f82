"""Greedy generation under MPC on the built-in trained E2E model, on held-out E2E prompts, vs plaintext greedy."""

from __future__ import annotations

from difflib import SequenceMatcher
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from privformers.data.e2e import read_e2e
from privformers.data.splits import split_by_source
from privformers.generation import generate_run
from privformers.lm import builtin_model_path
from privformers.lm.delex import load_delex
from privformers.lm.prompt import format_prompt
from privformers.models.load import from_path
from privformers.models.plain import plain_greedy
from privformers.models.spec import ModelSpec

pytestmark = pytest.mark.usefixtures("short_switch_interval")


def held_out_mrs(data: Path) -> list[str]:
    """The E2E MRs the built-in model never saw (the MR split's test, see its model card), in split order,
    delexicalised as its client sends them (``privformers_delex.json``: placeholders for the values)."""
    path = data / "e2e" / "devset.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent: real-data test skipped")
    test = split_by_source(read_e2e(path), validation_fraction=0.05, test_fraction=0.10, seed=0)["test"]
    delex = load_delex(builtin_model_path())
    return [delex.prompt(s).text if delex else s for s in dict.fromkeys(pair.source for pair in test)]


def agreement(prompts: list[list[int]], new_tokens: int, processes: bool = False) -> tuple[int, int, list[str]]:
    """Secure greedy vs plaintext greedy per prompt: equal positions, all positions, and each divergence.

    processes: run each prompt's session as three local processes over TLS (as ``privformers
    generate`` does; faster than threads sharing one interpreter), else as threads."""
    path = builtin_model_path()
    spec = from_path(path)
    weights = spec.weights()
    model = plain(spec, weights)
    equal, total, notes = 0, 0, []
    for ids in prompts:
        ref, gaps = plain_greedy(model, ids, new_tokens)
        if processes:
            from transformers import GenerationConfig

            from privformers.generation import LocalProcesses
            from privformers.generation import generate as private_generate

            config = GenerationConfig(max_new_tokens=new_tokens, eos_token_id=[])   # every token, no cut
            base = private_generate(path, ids, config, parties=LocalProcesses(timeout=3600.0))
            got = base.token_ids[0]
        else:
            got = generate_run(spec.factory, weights, ids, new_tokens).results["client"]["tokens"]
        assert len(got) == new_tokens
        same = [a == b for a, b in zip(got, ref)]
        equal, total = equal + sum(same), total + new_tokens
        print(f"prompt {len(ids)} tokens: {sum(same)}/{new_tokens} equal", flush=True)
        if not all(same):
            first = same.index(False)
            aligned = sum(b.size for b in SequenceMatcher(a=got, b=ref, autojunk=False).get_matching_blocks())
            notes.append(f"prompt of {len(ids)} tokens diverges at new token {first} (plaintext top-2 gap "
                         f"{gaps[first]:.2e}; {aligned}/{new_tokens} tokens equal once aligned): mpc {got} vs "
                         f"plaintext {ref}")
    return equal, total, notes


def plain(spec: ModelSpec, weights: dict[str, torch.Tensor]) -> torch.nn.Module:
    """The built-in model in the clear (the plaintext reference)."""
    model = spec.factory()
    model.load_state_dict(weights)
    return model


def run_agreement(data: Path, n_prompts: int, new_tokens: int, shortest: bool, processes: bool = False) -> None:
    """Assert >= 99% of generated tokens equal plaintext greedy on n held-out prompts (`<MR> =`)."""
    tokenizer = AutoTokenizer.from_pretrained(builtin_model_path())
    prompts = [tokenizer(format_prompt(mr))["input_ids"] for mr in held_out_mrs(data)]
    prompts = sorted(prompts, key=len)[:n_prompts] if shortest else prompts[:n_prompts]
    equal, total, notes = agreement(prompts, new_tokens, processes)
    print(f"builtin e2e gpt2: {equal}/{total} generated tokens equal plaintext greedy "
          f"({equal / total:.4f}) over {len(prompts)} held-out prompts x {new_tokens} tokens")
    for note in notes:
        print("divergence:", note)
    assert equal / total >= 0.99, notes


@pytest.mark.slow
def test_builtin_copies_an_unseen_name_under_mpc() -> None:
    """The private-generation API on a restaurant the model never saw: the client puts the placeholders in
    and the name back; the text names it (the parties as threads: tens of seconds per token)."""
    from transformers import GenerationConfig

    from privformers.generation import InProcess
    from privformers.generation import generate as private_generate

    out = private_generate(builtin_model_path(), "name[Blue Spice], eatType[coffee shop], area[riverside] =",
                           GenerationConfig(max_new_tokens=3), parties=InProcess(timeout=3600.0))
    assert "Blue Spice" in out.texts[0], out.texts


def test_builtin_greedy_matches_plaintext(shared_data: Path) -> None:
    # the shortest held-out prompt and two tokens (prefill and one cached decode step): the default
    # suite's budget; the offline pass of each step costs tens of seconds with the parties as threads
    run_agreement(shared_data, 1, 2, shortest=True)


@pytest.mark.slow
@pytest.mark.timeout(3 * 3600)
def test_builtin_greedy_matches_plaintext_many(shared_data: Path) -> None:
    # 20 held-out prompts x 16 tokens, each session as three processes over TLS (about 30 s each on
    # the 2-core machine). History: the older engine (threads, 84 min) gave 315/320 = 0.984: on the
    # 10th prompt the plaintext top two logits after "." differ by 1.6e-4, below the 16-bit MPC error.
    run_agreement(shared_data, 20, 16, shortest=False, processes=True)
