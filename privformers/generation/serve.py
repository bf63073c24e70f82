"""Serving private generation: ``privformers serve`` keeps a model loaded and serves many clients;
``privformers generate --server --dealer`` is the client.

A session, all on TLS links (see ``privformers.mpc.transport``):
1. the client picks a fresh random session id and connects to the dealer service, then to the
   server, and asks the server for a generation with its public parameters (prompt length,
   number of new tokens, options): never the prompt. (The dealer first: a client that cannot
   reach its dealer fails before the server starts a session for it, which would wait for the
   dealer to pair it until the dealer's pair timeout.)
2. the server answers with the public session: those parameters plus the model's architecture (and
   a student's approximation recipe);
3. the server connects to the dealer service with the session id; client and server each send
   it the public session; the dealer checks that both sent the same, then deals fresh randomness;
4. the three run the generation program; the client learns the tokens, the server nothing;
5. the server sends the client its own (public) cost report, for the per-token summary.
Each server session runs in its own thread with its own timeouts: a client that fails or
vanishes ends only its session. A connection holds a session slot only once its request has
come (within ``request_timeout``); see ``privformers.mpc.service``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import torch

from privformers.generation.padding import check_paddable
from privformers.generation.parties import RemoteServer
from privformers.generation.plan import Plan
from privformers.generation.program import generation_program
from privformers.generation.report import plan_report
from privformers.generation.sampling import Sampling, check_sampling
from privformers.models.load import from_config_dict, from_path
from privformers.models.spec import check_length, public_spec
from privformers.mpc.party import CLIENT, DEALER, SERVER, Party
from privformers.mpc.process import abort_all, stop_reason
from privformers.mpc.ring import FixedPoint
from privformers.mpc.ringmath import gemm_device as gemm_device_for
from privformers.mpc.service import Service, log, recv_json, send_json
from privformers.mpc.session import execute
from privformers.mpc.transport.base import TransportError
from privformers.mpc.transport.connect import Addr, dial
from privformers.mpc.transport.handshake import BUSY, OK, REASONS
from privformers.mpc.transport.tcp import TcpChannel
from privformers.mpc.transport.tls import TlsConfig

PROGRAM = "generate"
MAX_ROWS = 8   # prompts a session may hold by default (``max_rows``)


class SessionRefused(TransportError):
    """The server refused the request (its reason is in the message)."""


def check_request(request: dict) -> tuple[Plan, int]:
    """The public plan and precision of a client's request; ValueError when malformed."""
    if not isinstance(request, dict) or request.get("program") != PROGRAM:
        raise ValueError(f"this server runs the {PROGRAM!r} program")
    if set(request) - {"program", "plan", "frac_bits"}:
        raise ValueError(f"unknown request fields {sorted(set(request) - {'program', 'plan', 'frac_bits'})}")
    plan = Plan.from_json(request.get("plan"))
    frac_bits = request.get("frac_bits", 16)
    if type(frac_bits) is not int or not 8 <= frac_bits <= 24:
        raise ValueError("frac_bits must be an integer in [8, 24]")
    return plan, frac_bits


class GenerationServer(Service):
    """``privformers serve``: the weights are loaded once; each client session gets fresh randomness."""

    role, accepts = SERVER, (CLIENT,)

    def __init__(self, model: str | Path, addr: Addr, dealer: Addr, tls: TlsConfig | None,
                 io_timeout: float = 120.0, max_sessions: int = 4, max_new_tokens: int = 256,
                 on_log: Callable[[str, str], None] = log, connect_timeout: float = 30.0,
                 gemm_threads: int = 1, gemm_device: str = "cpu", max_rows: int = MAX_ROWS,
                 **limits: int | float) -> None:
        """gemm_threads, gemm_device: torch threads and device (cpu, cuda, cuda:N) for each session's
        products with the plaintext weights; an unavailable device fails here, before serving.
        max_new_tokens, max_rows: the most tokens and prompts one session may ask for.
        limits: request_timeout, max_pending, max_message (see ``Service``)."""
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        self.max_rows = max_rows
        if gemm_threads < 1:
            raise ValueError(f"gemm_threads must be at least 1, got {gemm_threads}")
        self.gemm_threads = gemm_threads
        self.gemm_device = str(gemm_device_for(gemm_device))
        self.spec = from_path(model)
        self.weights = self.spec.weights()        # loaded once, copied into each session's model
        self.public = public_spec(self.spec)   # architecture and a student's recipe
        self.dealer, self.max_new_tokens, self.connect_timeout = dealer, max_new_tokens, connect_timeout
        super().__init__(addr, tls, io_timeout, max_sessions, on_log, **limits)

    def session(self, link: TcpChannel, sid: bytes, remote: str) -> None:
        tag = f"session {sid.hex()[:12]} from {remote}"
        links: dict[str, TcpChannel] = {CLIENT: link}
        t0 = time.perf_counter()
        try:
            request = self.opening(link, "request")
        except TransportError as exc:      # not a session yet: silent, cut short, or not a request
            self.log(self.role, f"{tag}: dropped before a request: {exc}")
            link.abort(f"the server refused: {exc}")
            self._release(sid)
            return
        try:
            try:
                plan, frac_bits = check_request(request)
                status = self.occupy(sid)
                if status != OK:
                    raise ValueError(REASONS[status] if status == BUSY else f"session refused: {REASONS[status]}")
                self.check_plan(plan)
            except ValueError as exc:
                send_json(link, {"ok": False, "error": str(exc)})
                self.log(self.role, f"{tag}: request refused: {exc}")
                link.close(flush_timeout=1.0)
                return
            public = {"plan": plan.to_json(), **self.public}
            description = {"program": PROGRAM, "args": public, "frac_bits": frac_bits}
            send_json(link, {"ok": True, **description})
            shape = ", ".join(f"{rows}x{width}" for rows, width in plan.passes)
            self.log(self.role, f"{tag}: generate, prompts (rows x width) {shape}{' padded' if plan.padded else ''}, "
                                f"{plan.max_new_tokens} new tokens{', sampled' if plan.sampling else ''}")
            deadline = time.monotonic() + self.connect_timeout
            links[DEALER] = dial(SERVER, DEALER, sid, self.dealer, deadline, self.connect_timeout, self.tls,
                                 self.io_timeout, self.max_message)
            send_json(links[DEALER], description)
            program = generation_program(self.spec.factory, self.weights, plan)
            party = Party(SERVER, dict(links), FixedPoint(frac_bits), gemm_threads=self.gemm_threads,
                          gemm_device=self.gemm_device)
            party.handshake()
            result = execute(party, program)
            send_json(link, {"passes": result["passes"], "meter": party.meter.summary()})
            party.close()
        except BaseException as exc:  # noqa: BLE001 - a failed session must never end the server
            self.sessions_failed += 1
            detail = str(exc) if isinstance(exc, TransportError) else type(exc).__name__
            self.log(self.role, f"{tag}: failed after {time.perf_counter() - t0:.1f} s: {detail}")
            abort_all(links, stop_reason(SERVER, exc))
            return
        finally:
            self._release(sid)
        self.sessions_done += 1
        self.log(self.role, f"{tag}: done in {time.perf_counter() - t0:.1f} s")

    def check_plan(self, plan: Plan) -> None:
        """ValueError unless this server will run the plan: its limits, the model's context, padding."""
        if plan.max_new_tokens > self.max_new_tokens:
            raise ValueError(f"this server generates at most {self.max_new_tokens} tokens per session")
        if plan.rows > self.max_rows:
            raise ValueError(f"this server takes at most {self.max_rows} prompts per session")
        for _, width in plan.passes:
            check_length(self.spec, width, plan.max_new_tokens)
        if plan.padded:
            check_paddable(self.spec.config, self.spec.recipe)
        if plan.sampling is not None:
            check_sampling(Sampling(**plan.sampling), int(self.spec.config.vocab_size), plan.bits)


def served_generation(parties: RemoteServer, rows: list[list[int]], plan_of: Callable[..., tuple[Plan, list]],
                      stop_ids: tuple[int, ...], options: object, stream_for: Callable[[list[int]], object],
                      suppress: list[list[int]] | None = None) -> tuple[list[list[int]], dict]:
    """The client's side of a served session (``generate`` with a ``RemoteServer``): per prompt, in
    input order, its tokens, and the cost report.

    The client reaches the dealer first (so a dead dealer fails here, before the server starts a
    session), then asks the server for the public plan; the server answers with the model's public
    architecture; client and server send the dealer the same description. Prompts and stop ids stay
    here, as do suppress (per prompt: token ids it may never choose). plan_of(None, None): the plan and
    each pass's prompt indices (the server checks that its model can run it, e.g. pad); stream_for(first
    prompt): the token stream of the first pass."""
    torch.set_num_threads(1)
    tls = parties.tls
    if tls is not None:
        tls.check_role(CLIENT)
    plan, groups = plan_of(None, None)
    frac_bits = options.frac_bits
    sid = os.urandom(16)
    timeout, io_timeout = parties.connect_timeout, parties.io_timeout
    links: dict[str, TcpChannel] = {}
    stream = stream_for(rows[0])
    try:
        links[DEALER] = dial(CLIENT, DEALER, sid, parties.dealer, time.monotonic() + timeout, timeout, tls, io_timeout)
        links[SERVER] = dial(CLIENT, SERVER, sid, parties.server, time.monotonic() + timeout, timeout, tls, io_timeout)
        send_json(links[SERVER], {"program": PROGRAM, "plan": plan.to_json(), "frac_bits": frac_bits})
        reply = recv_json(links[SERVER], "answer")
        if not reply.get("ok"):
            raise SessionRefused(f"the server refused the session: {reply.get('error', 'no reason given')}")
        public = reply.get("args", {})
        if public.get("plan") != plan.to_json() or reply.get("frac_bits") != frac_bits:
            raise TransportError("the server changed the session's public parameters")
        send_json(links[DEALER], {"program": PROGRAM, "args": public, "frac_bits": frac_bits})
        spec = from_config_dict(public["hf_config"], public.get("recipe"))
        vocab = int(spec.config.vocab_size)
        for i, row in enumerate(rows):
            if any(not 0 <= t < vocab for t in row):
                raise ValueError(f"prompt {i}: token ids must lie in [0, {vocab}) for the served model: is the "
                                 "tokenizer the server's?")
        ordered = [rows[i] for g in groups for i in g]
        banned = None if suppress is None else [suppress[i] for g in groups for i in g]
        program = generation_program(spec.factory, None, plan, ordered, stop_ids, stream.tokens, options.progress,
                                     suppress=banned)
        party = Party(CLIENT, dict(links), FixedPoint(frac_bits))
        party.handshake()
        result = execute(party, program)
        server_report = recv_json(links[SERVER], "cost report")
        party.close()
    except BaseException as exc:
        abort_all(links, stop_reason(CLIENT, exc))
        raise
    stream.end()
    tokens: list = [None] * len(rows)
    flat = [row for p in result["passes"] for row in p["tokens"]]
    for i, row in zip((i for g in groups for i in g), flat):
        tokens[i] = row
    cost = plan_report(plan, result, {"passes": server_report["passes"]}, party.meter.summary(),
                       server_report["meter"], groups)
    return tokens, cost
