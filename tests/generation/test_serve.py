"""Serving: one ``serve`` server and one dealer service, many client sessions over TLS.

Two clients in a row and two at once get the plaintext greedy tokens; a client that vanishes in
the middle of its generation costs only its own session; a malformed request is refused.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from privformers.generation.api import remote_generate
from privformers.generation.serve import GenerationServer, SessionRefused
from privformers.models.plain import plain_greedy
from privformers.mpc.launch import free_ports
from privformers.mpc.service import DealerService
from privformers.mpc.transport.base import SessionAborted, TransportError
from privformers.mpc.transport.connect import dial
from privformers.mpc.transport.frame import KIND_BYTES, encode_header
from tests.generation.helpers import PROMPT, SMALL_SPEC, plain_model, save_model
from tests.mpc.tls_helpers import make_pki

OTHER_PROMPT = [9, 3, 77, 1, 50]


class Services:
    """A dealer service and a generation server in this process, with their log lines."""

    def __init__(self, folder: Path, pki: dict) -> None:
        self.lines: list[str] = []
        self.pki = pki
        on_log = lambda who, text: self.lines.append(f"[{who}] {text}")  # noqa: E731
        self.dealer = DealerService(("127.0.0.1", 0), pki["dealer"], io_timeout=30, pair_timeout=20, on_log=on_log)
        self.server = GenerationServer(folder, ("127.0.0.1", 0), self.dealer.address, pki["server"],
                                       io_timeout=30, on_log=on_log)
        self.dealer.start()
        self.server.start()

    def generate(self, prompt: list[int], n: int, **kw) -> dict:
        return remote_generate(self.server.address, self.dealer.address, self.pki["client"], prompt, n,
                               io_timeout=30, **kw)

    def stop(self) -> None:
        self.server.stop()
        self.dealer.stop()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model(tmp_path_factory.mktemp("model") / "m", SMALL_SPEC)


@pytest.fixture(scope="module")
def services(folder: Path, tmp_path_factory: pytest.TempPathFactory):
    s = Services(folder, make_pki(tmp_path_factory.mktemp("pki")))
    yield s
    s.stop()


def expected(prompt: list[int], n: int) -> list[int]:
    return plain_greedy(plain_model(SMALL_SPEC), prompt, n)[0]


def test_two_clients_in_a_row(services):
    first = services.generate(PROMPT, 2)
    second = services.generate(OTHER_PROMPT, 1)
    assert first["tokens"] == expected(PROMPT, 2)
    assert second["tokens"] == expected(OTHER_PROMPT, 1)
    assert len(first["per_token"]) == 2 and first["totals"]["online_bytes"] > 0
    assert first["breakdown"]["sampling"]["rounds"] > 0


def test_two_clients_at_once(services):
    done_before = services.server.sessions_done
    out: dict = {}

    def client(name: str, prompt: list[int]) -> None:
        try:
            out[name] = services.generate(prompt, 2)
        except BaseException as exc:  # noqa: BLE001
            out[name] = exc

    threads = [threading.Thread(target=client, args=(n, p)) for n, p in (("a", PROMPT), ("b", OTHER_PROMPT))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert out["a"]["tokens"] == expected(PROMPT, 2), out["a"]
    assert out["b"]["tokens"] == expected(OTHER_PROMPT, 2), out["b"]
    assert services.server.sessions_done == done_before + 2


def test_vanishing_client_leaves_the_server_serving(services, monkeypatch, capfd):
    """The client's connections drop (as when its process is killed) after its first token."""
    import privformers.generation.serve as serve

    opened: list = []
    real_dial = serve.dial

    def recording_dial(*args, **kwargs):
        link = real_dial(*args, **kwargs)
        opened.append(link)
        return link

    monkeypatch.setattr(serve, "dial", recording_dial)
    failed_before = services.server.sessions_failed
    box: dict = {}
    t = threading.Thread(target=lambda: box.setdefault("err", _catch(lambda: services.generate(
        PROMPT, 4, progress=True))), daemon=True)
    t.start()
    end = time.monotonic() + 120
    while "[client] token 1/4" not in capfd.readouterr().err:
        assert time.monotonic() < end, "the client never produced its first token"
        time.sleep(0.05)
    for link in opened:
        link._stream.sock.shutdown(socket.SHUT_RDWR)   # the connections drop, no goodbye
    t.join(30)
    assert isinstance(box.get("err"), TransportError)
    monkeypatch.setattr(serve, "dial", real_dial)
    end = time.monotonic() + 30
    while services.server.sessions_failed == failed_before:
        assert time.monotonic() < end, "the server did not notice"
        time.sleep(0.05)
    assert any("failed after" in line and "client" in line for line in services.lines), services.lines
    assert services.generate(OTHER_PROMPT, 1)["tokens"] == expected(OTHER_PROMPT, 1)


def _catch(fn):
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001
        return exc
    return None


def test_bad_requests_are_refused_and_the_server_goes_on(services):
    with pytest.raises(SessionRefused, match="at most 256 tokens"):
        services.generate(PROMPT, 1000)
    with pytest.raises(SessionRefused, match="too long"):
        services.generate(list(range(1, 62)), 8)
    assert services.generate(PROMPT, 1)["tokens"] == expected(PROMPT, 1)


@pytest.mark.slow
def test_killed_client_process_leaves_the_server_serving(services, folder):
    """A real client process, killed (SIGKILL) after its first token; the next client is served."""
    f = services.pki["client"]
    cmd = [sys.executable, "-m", "privformers.cli", "generate", "--model", str(folder), "--prompt-ids",
           ",".join(map(str, PROMPT)), "--max-new-tokens", "4",
           "--server", "{}:{}".format(*services.server.address), "--dealer", "{}:{}".format(*services.dealer.address),
           "--cert", str(f.cert), "--key", str(f.key), "--ca", str(f.ca)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "OMP_NUM_THREADS": "1"}
    failed_before = services.server.sessions_failed
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True)
    try:
        for line in proc.stderr:
            if line.startswith("[client] token 1/4"):
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    end = time.monotonic() + 30
    while services.server.sessions_failed == failed_before:
        assert time.monotonic() < end, "the server did not notice the killed client"
        time.sleep(0.05)
    assert services.generate(PROMPT, 1)["tokens"] == expected(PROMPT, 1)


def test_a_server_given_a_gpu_it_does_not_have_refuses_to_start(folder):
    """``serve --gemm-device cuda:N`` on a machine without that GPU fails before loading the model or
    listening, with the reason; it never serves with its products quietly on the CPU."""
    import torch

    absent = f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"
    with pytest.raises(ValueError, match=f"gemm device '{absent}'"):
        GenerationServer(folder, ("127.0.0.1", 0), ("127.0.0.1", 9), None, gemm_device=absent)


def test_a_served_student_runs_with_its_recipe(tmp_path: Path) -> None:
    """The public session carries a student's recipe: the client and the dealer build the converted
    architecture the server runs, and the tokens equal the student's plaintext greedy decoding."""
    from privformers.approx import approximate, save_student

    student = approximate(plain_model(SMALL_SPEC), "mpcformer-quad-2quad")
    save_student(student, tmp_path / "student")
    s = Services(tmp_path / "student", make_pki(tmp_path / "pki"))
    try:
        out = s.generate(PROMPT, 2)
    finally:
        s.stop()
    assert out["tokens"] == plain_greedy(student.eval(), PROMPT, 2)[0]


def test_idle_authenticated_connections_do_not_keep_a_real_client_out(services, monkeypatch):
    """Issue 29, item 8: connections that complete the handshake and then say nothing held every slot
    (max_sessions 4) until the session timeout. Now they hold none, and are dropped after request_timeout."""
    monkeypatch.setattr(services.server, "request_timeout", 1.5, raising=False)
    idle = [dial("client", "server", os.urandom(16), services.server.address, time.monotonic() + 5, 5,
                 services.pki["client"], 10) for _ in range(services.server.max_sessions + 2)]
    t0 = time.monotonic()
    assert services.generate(PROMPT, 1)["tokens"] == expected(PROMPT, 1)
    print(f"a real client beside {len(idle)} idle ones: served in {time.monotonic() - t0:.1f} s")
    for link in idle:
        with pytest.raises(SessionAborted, match="waited 1.5 s for a message and gave up"):
            link.recv()
        link.close()


def test_a_huge_announced_request_is_refused_at_once(services):
    """Issue 29, item 2: a client's first message may announce at most 1 MiB (it is a JSON request)."""
    sid = os.urandom(16)
    link = dial("client", "server", sid, services.server.address, time.monotonic() + 5, 5, services.pki["client"], 5)
    link._stream.send_frame(encode_header(sid, 0, KIND_BYTES, 0, (), 1 << 30))   # and nothing after it
    with pytest.raises(SessionAborted, match=r"announced a 1073741824-byte message, over this link's "
                                             r"1048576-byte limit"):
        link.recv()
    link.close()
    # the server logs the drop on its own thread: wait for it, so that no later test sees it as its own
    deadline = time.monotonic() + 10
    while not any(sid.hex()[:12] in line for line in services.lines) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any(sid.hex()[:12] in line and "dropped before a request" in line for line in services.lines)


def test_a_client_given_a_dead_dealer_fails_without_starting_a_server_session(services):
    """Issue 29, item 8: the client asked the server for a session, then could not reach its dealer; the
    server waited for the dealer to pair it (pair_timeout, 60 s by default). The client now reaches its
    dealer first, so the server never starts a session for it."""
    dead = ("127.0.0.1", free_ports(1)[0])
    before = len(services.lines)
    t0 = time.monotonic()
    with pytest.raises(TransportError, match=r"could not reach dealer at 127.0.0.1:\d+ within 1 s"):
        remote_generate(services.server.address, dead, services.pki["client"], PROMPT, 1, io_timeout=30,
                        connect_timeout=1)
    assert time.monotonic() - t0 < 5
    time.sleep(1.0)
    started = [line for line in services.lines[before:] if line.startswith("[server]")]
    assert not started, started
    assert services.server.open_sessions() == 0, "the server holds a session for the client that gave up"


def test_the_python_api_against_a_served_model(services, folder):
    """``generate(..., parties=RemoteServer(...))``: text prompts of different lengths in one padded session,
    each prompt's own greedy tokens, a streamer for one prompt, and the server's refusal of a plan its
    model cannot run, by name."""
    from transformers import GenerationConfig

    from privformers.generation import MpcOptions, RemoteServer, generate

    parties = RemoteServer(services.server.address, services.dealer.address, services.pki["client"], 5, 30)
    config = GenerationConfig(max_new_tokens=2, eos_token_id=[])
    texts = [" ".join(f"w{t}" for t in p) for p in (PROMPT, OTHER_PROMPT, [60, 50])]
    out = generate(folder, texts, config, parties=parties)
    assert out.token_ids == [expected(p, 2) for p in (PROMPT, OTHER_PROMPT, [60, 50])]
    assert [(p["rows"], p["width"]) for p in out.cost["passes"]] == [(3, 5)]
    seen = []
    streamer = type("S", (), {"put": lambda self, v: seen.append(v.tolist()), "end": lambda self: seen.append("end")})()
    generate(folder, PROMPT, config, parties=parties, streamer=streamer)
    assert seen == [[PROMPT], *[[t] for t in expected(PROMPT, 2)], "end"]
    with pytest.raises(SessionRefused, match="at most 8 prompts"):
        generate(folder, [PROMPT] * 9, config, parties=parties, options=MpcOptions(batch_size=9))
