"""Each secret reaches only its owner's process, on every local launcher path.

Every party process of ``generate``, ``launch``, ``demo``, ``classify``, ``evaluate --mpc`` and the Python
API (``mpc_generate``) runs with a spy (``spy.py``) that records, from inside the process, its command
line, environment, stdin, the files it opened and every byte it received from a peer. The client's
input (token ids, the text, the demo's x) must appear in none of the server's or dealer's; the
server's weights (its folder, the demo's W) in none of the client's or dealer's. Negative controls:
the same checks flag the old launcher's way (prompt and model folder on every command line), and the
wire spy sees a message that is sent in the clear (``echo``).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, GPT2Config, GPT2LMHeadModel

from privformers.cli import main
from privformers.lm.tokenizer import train_bpe_tokenizer
from privformers.mpc.ring import FixedPoint
from tests.mpc import spy

CANARY = "name[Quixotic Zebra Lounge], area[riverside] ="
TEXTS = ["name[The Eagle], food[French], area[riverside] =", "a fine place to eat near the river",
         "it was terrible and slow", "good food and kind staff", "name[Zizzi], eatType[pub] ="] * 4


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny GPT-2 LM and a tiny BERT classifier, each saved with a tokenizer."""
    tmp = tmp_path_factory.mktemp("owners")
    tokenizer = train_bpe_tokenizer(TEXTS, vocab_size=300)
    torch.manual_seed(0)
    lm = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=len(tokenizer), n_positions=64,
                                    initializer_range=0.2, bos_token_id=0, eos_token_id=0))
    lm.save_pretrained(tmp / "lm")
    tokenizer.save_pretrained(tmp / "lm")
    clf = BertForSequenceClassification(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                                                   num_attention_heads=2, intermediate_size=64,
                                                   max_position_embeddings=64, num_labels=2))
    clf.save_pretrained(tmp / "clf")
    tokenizer.save_pretrained(tmp / "clf")
    return {"lm": tmp / "lm", "clf": tmp / "clf"}


@pytest.fixture
def spied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Party processes started in this test run with the spy; the launcher's folders go to tmp/tmp."""
    for key, value in spy.install(tmp_path / "spy").items():
        monkeypatch.setenv(key, value)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return tmp_path


def ids_of(folder: Path, text: str) -> list[int]:
    from transformers import AutoTokenizer

    ids = AutoTokenizer.from_pretrained(folder)(text)["input_ids"]
    assert len(ids) >= 6, "the canary must be long enough that its ids cannot match by chance"
    return ids


def weight_bytes(folder: Path) -> bytes:
    """8 consecutive entries of the LM's token embedding, as the server encodes them (fixed point)."""
    from safetensors.torch import load_file

    wte = load_file(folder / "model.safetensors")["transformer.wte.weight"].double()
    return FixedPoint(16).encode(wte[3, :8]).numpy().tobytes()


def leaks(seen: dict[str, list[spy.Seen]], owner: str, ids: list[int] | None = None, texts: tuple[str, ...] = (),
          folder: Path | None = None, wire: tuple[bytes, ...] = ()) -> list[str]:
    """Where a secret of owner's reached another party process (empty: nowhere)."""
    found = []
    others = [p for role in ("client", "server", "dealer") if role != owner for p in seen.get(role, [])]
    assert {p.role for p in others} == {"client", "server", "dealer"} - {owner}, seen.keys()
    for p in others:
        given = p.text()
        if ids is not None and spy.has_ids(given, ids):
            found.append(f"{p.role}: the ids in its arguments, environment or stdin")
        found += [f"{p.role}: {t!r} in its arguments, environment or stdin" for t in texts if t in given]
        if folder is not None:
            if str(folder) in given or str(folder.resolve()) in given:
                found.append(f"{p.role}: the folder's path in its arguments, environment or stdin")
            found += [f"{p.role} opened {f}" for f in p.opened if f.startswith((str(folder), str(folder.resolve())))]
        if ids is not None and any(enc in p.wire for enc in spy.int_encodings(ids)):
            found.append(f"{p.role}: the ids in a message it received")
        found += [f"{p.role}: a plaintext value in a message it received" for w in wire if w in p.wire]
        found += [f"{p.role}: {t!r} in a message it received" for t in texts if t.encode() in p.wire]
    return found


def client_leaks(root: Path, ids: list[int], text: str) -> list[str]:
    """The client's input anywhere but the client; also the launcher's session files, which hold its
    log: no other party may open them, and none may be left behind."""
    seen = spy.read(root / "spy")
    found = leaks(seen, "client", ids, (text,))
    for p in seen["server"] + seen["dealer"]:
        found += [f"{p.role} opened {f}" for f in p.opened if "/privformers-" in f and "/client." in f]
    left = sorted(x.name for x in (root / "tmp").iterdir())
    return found + ([f"left behind: {left}"] if left else [])


def server_leaks(root: Path, folder: Path) -> list[str]:
    seen = spy.read(root / "spy")
    return leaks(seen, "server", folder=folder, wire=(weight_bytes(folder),))


def test_generate_gives_the_prompt_to_the_client_and_the_weights_to_the_server(folders, spied, capsys):
    assert main(["generate", "--model", str(folders["lm"]), "--prompt", CANARY, "--max-new-tokens", "2",
                 "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["tokens"]) == 2
    assert client_leaks(spied, ids_of(folders["lm"], CANARY), CANARY) == []
    assert server_leaks(spied, folders["lm"]) == []


def test_python_api_mpc_generate(folders, spied):
    from privformers.generation.many import mpc_generate

    ids = ids_of(folders["lm"], CANARY)
    out = mpc_generate(folders["lm"], [ids], 2)
    assert len(out) == 1 and len(out[0]["tokens"]) <= 2
    assert client_leaks(spied, ids, CANARY) == []
    assert server_leaks(spied, folders["lm"]) == []


def test_launch_with_role_files(folders, spied, tmp_path):
    """``privformers launch``: what --client-args-file holds reaches the client alone, --server-args-file
    the server alone."""
    from privformers.generation.plan import Plan
    from privformers.models.load import from_path
    from privformers.models.spec import public_spec

    ids = ids_of(folders["lm"], CANARY)
    (tmp_path / "client.json").write_text(json.dumps({"prompts": [ids]}))
    (tmp_path / "server.json").write_text(json.dumps({"model": str(folders["lm"])}))
    public = {**public_spec(from_path(folders["lm"])), "plan": Plan(((1, len(ids)),), 2).to_json()}
    assert main(["launch", "--program", "generate", "--args", json.dumps(public), "--client-args-file",
                 str(tmp_path / "client.json"), "--server-args-file", str(tmp_path / "server.json"), "--json"]) == 0
    assert client_leaks(spied, ids, CANARY) == []
    assert server_leaks(spied, folders["lm"]) == []


def test_demo_gives_x_to_the_client_and_w_to_the_server(spied, capsys):
    from privformers.mpc.programs import linear_demo_inputs

    assert main(["demo", "--seed", "5"]) == 0
    x, w, b = linear_demo_inputs(5)
    seen = spy.read(spied / "spy")
    fp = FixedPoint(16)
    x_texts = tuple(json.dumps(v) for v in x.reshape(-1).tolist()[1:-1])   # +-1.0 would match by chance
    w_texts = tuple(json.dumps(v) for v in [*w.reshape(-1).tolist(), *b.tolist()])
    assert leaks(seen, "client", texts=x_texts, wire=(fp.encode(x).numpy().tobytes(),)) == []
    assert leaks(seen, "server", texts=w_texts, wire=(fp.encode(w).numpy().tobytes(),)) == []
    assert all(t in seen["client"][0].text() for t in x_texts)      # the checks look where the values are
    assert all(t in seen["server"][0].text() for t in w_texts)


def test_classify_gives_the_text_to_the_client(folders, spied, capsys):
    assert main(["classify", "--model", str(folders["clf"]), "--text", CANARY, "--json"]) == 0
    assert client_leaks(spied, ids_of(folders["clf"], CANARY), CANARY) == []
    assert leaks(spy.read(spied / "spy"), "server", folder=folders["clf"]) == []


def test_evaluate_mpc_gives_the_sources_to_the_client(folders, spied, tmp_path, capsys):
    data = tmp_path / "mrs.csv"
    source = CANARY.removesuffix(" =")
    data.write_text(f'mr,ref\n"{source}","The Quixotic Zebra Lounge is by the river."\n')
    assert main(["evaluate", "--model", str(folders["lm"]), "--data", str(data), "--split", "all", "--mpc",
                 "--max-new-tokens", "2", "--metrics", "bleu", "--json"]) == 0
    from privformers.lm.prompt import format_prompt

    ids = ids_of(folders["lm"], format_prompt(source))
    assert client_leaks(spied, ids, source) == []
    assert server_leaks(spied, folders["lm"]) == []


def test_negative_control_the_checks_catch_secrets_on_every_command_line(folders, spied, capsys):
    """The old launcher's way, through ``launch --args``: the prompt and the model folder on every party's
    command line. Both checks must flag it."""
    from privformers.generation.plan import Plan

    ids = ids_of(folders["lm"], CANARY)
    args = {"model": str(folders["lm"]), "prompts": [ids], "plan": Plan(((1, len(ids)),), 2).to_json()}
    assert main(["launch", "--program", "generate", "--args", json.dumps(args), "--json"]) == 0
    client = client_leaks(spied, ids, CANARY)
    assert "server: the ids in its arguments, environment or stdin" in client
    assert "dealer: the ids in its arguments, environment or stdin" in client
    server = server_leaks(spied, folders["lm"])
    assert "client: the folder's path in its arguments, environment or stdin" in server
    assert any(f.startswith("dealer opened ") for f in server)


def test_negative_control_the_wire_spy_sees_plaintext_messages(spied, capsys):
    """``echo`` sends each peer known tensors in the clear: the spy must find the client's in what the
    server received (and so would find a prompt sent that way)."""
    assert main(["launch", "--program", "echo", "--args", '{"n": 64}', "--json"]) == 0
    sent_by_client = (torch.arange(64) * (1 + len("client"))).tolist()
    seen = spy.read(spied / "spy")
    assert leaks(seen, "client", ids=sent_by_client) == ["server: the ids in a message it received",
                                                          "dealer: the ids in a message it received"]
