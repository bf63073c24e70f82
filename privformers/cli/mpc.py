"""CLI: ``privformers party`` (one party, any host), ``launch`` (three local processes), ``demo``,
``certs`` (a CA and party certificates) and ``dealer`` (a long-running dealer service)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from privformers.cli.argtypes import frac_bits, json_object, positive_float, positive_int, strict_json
from privformers.cli.options import (
    add_max_message_option,
    add_tls_options,
    max_message_from,
    parse_addr,
    tls_from_args,
)
from privformers.mpc.party import ROLES
from privformers.mpc.transport.base import TransportError

_addr = parse_addr


def _session(text: str) -> bytes:
    try:
        sid = bytes.fromhex(text)
    except ValueError:
        sid = b""
    if len(sid) != 16:
        raise argparse.ArgumentTypeError("session id must be 32 hex digits (16 bytes)")
    return sid


def _host(item: str) -> tuple[str, list[str]]:
    """--host ROLE=NAME[,NAME...]: the role and its names."""
    role, _, names = item.partition("=")
    hosts = [n.strip() for n in names.split(",") if n.strip()]
    if role not in ROLES or not hosts:
        raise argparse.ArgumentTypeError(f"expected ROLE=NAME[,NAME...] with ROLE one of {', '.join(ROLES)}, "
                                         f"got {item!r}")
    return role, hosts


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("party", help="run one party (client, server or dealer) of a secure session (TLS 1.3 links)",
                       description="Run one party. All three must be given the same --session, program and "
                       "addresses. The dealer listens on its address for client and server; the server "
                       "listens on its address for the client; the client connects to both.")
    p.add_argument("--role", choices=ROLES, required=True)
    p.add_argument("--program", required=True, help="a registered program, e.g. linear-demo, generate")
    p.add_argument("--session", type=_session, required=True,
                   help="session id: 32 hex digits, the same for all three")
    for role in ROLES:
        p.add_argument(f"--{role}", type=_addr, required=True, metavar="HOST:PORT",
                       help=f"the {role}'s address" + (" (it listens nowhere; used in messages)"
                                                       if role == "client" else " (it listens there)"))
    p.add_argument("--args", type=json_object, default="{}", help="program arguments as a JSON object (public: "
                   "every local user can read a command line)")
    p.add_argument("--args-stdin", action="store_true",
                   help="also read this party's own arguments (its secret inputs) as a JSON object from stdin, "
                        "merged over --args; how the local launcher hands each party its own")
    p.add_argument("--frac-bits", type=frac_bits, default=16)
    p.add_argument("--timeout", type=positive_float, default=60.0, help="seconds to wait for any message from a peer")
    p.add_argument("--connect-timeout", type=positive_float, default=30.0,
                   help="seconds to wait for the peers to connect")
    p.add_argument("--gemm-threads", type=positive_int, default=1,
                   help="torch threads for the server's large products with its plaintext weights (the client "
                        "waits for them, so on its own machine the server can use every core)")
    p.add_argument("--gemm-device", default="cpu", metavar="DEVICE",
                   help="server only: cpu, cuda or cuda:N, where its plaintext-weight products run (exact on "
                        "either; an unavailable device is an error, never a fallback to the CPU)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON line")
    add_max_message_option(p)
    add_tls_options(p)
    p.set_defaults(func=cmd_party)

    p = sub.add_parser("launch", help="run a program with three local party processes (TLS 1.3 links)",
                       description="Run a program with three local processes; the links are TLS 1.3 with "
                       "fresh ephemeral certificates (deleted afterwards) unless --insecure-transport.")
    p.add_argument("--program", required=True)
    p.add_argument("--args", type=json_object, default="{}",
                   help="public program arguments as a JSON object (every party gets them)")
    p.add_argument("--client-args-file", type=Path, metavar="FILE",
                   help="a JSON object file of the client's own arguments (its secret inputs): only the client "
                        "process receives them")
    p.add_argument("--server-args-file", type=Path, metavar="FILE",
                   help="a JSON object file of the server's own arguments (e.g. where its weights are): only "
                        "the server process receives them")
    p.add_argument("--frac-bits", type=frac_bits, default=16)
    p.add_argument("--timeout", type=positive_float, default=60.0)
    p.add_argument("--json", action="store_true")
    p.add_argument("--insecure-transport", action="store_true", help="plain TCP (tests and measurements only)")
    p.set_defaults(func=cmd_launch)

    p = sub.add_parser("certs", help="make a local CA and one TLS certificate per party (client, server, dealer)",
                       description="Write ca.pem, ca-key.pem and <role>.pem/<role>.key for client, server and "
                       "dealer into DIR. Give each party its own certificate and key plus ca.pem; keep ca-key.pem "
                       "offline (it can issue more certificates).")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--host", action="append", type=_host, default=[], metavar="ROLE=NAME[,NAME...]",
                   help="DNS names or IP addresses for a role's certificate (repeatable; default localhost, "
                        "127.0.0.1); informative: peers check the role named in the certificate")
    p.add_argument("--days", type=positive_float, default=365.0, help="validity in days")
    p.add_argument("--force", action="store_true",
                   help="replace existing files in DIR (each is written anew: keys 0600, certificates 0644; a "
                        "symbolic link among them is refused, never written through)")
    p.set_defaults(func=cmd_certs)

    p = sub.add_parser("dealer", help="a long-running dealer: correlated randomness for many sessions",
                       description="Listen for the clients and servers of many sessions; pair each session's "
                       "client and server by session id, check they describe the same public session, and "
                       "supply its correlated randomness, freshly drawn.")
    p.add_argument("--listen", type=_addr, required=True, metavar="HOST:PORT")
    p.add_argument("--timeout", type=positive_float, default=120.0,
                   help="seconds to wait for any message from a peer")
    p.add_argument("--pair-timeout", type=positive_float, default=60.0,
                   help="seconds the first party of a session waits for the second")
    p.add_argument("--max-sessions", type=positive_int, default=8, help="sessions served at once; more are refused")
    add_max_message_option(p)
    add_tls_options(p)
    p.set_defaults(func=cmd_dealer)

    p = sub.add_parser("demo", help="a secure linear layer with three processes over TLS 1.3, explained")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=positive_float, default=60.0)
    p.set_defaults(func=cmd_demo)


def own_json(text: str, what: str) -> dict:
    """A JSON object from text; ValueError naming ``what`` (never quoting the text: it may be a secret)."""
    try:
        return json_object(text)
    except argparse.ArgumentTypeError as exc:
        raise ValueError(f"{what}: {exc}") from None


def party_args(a: argparse.Namespace) -> dict:
    """--args, with this party's own arguments from stdin merged over them (--args-stdin)."""
    args = dict(a.args)
    if a.args_stdin:
        args.update(own_json(sys.stdin.buffer.read().decode("utf-8", "replace"), "the arguments on stdin"))
    return args


def cmd_party(a: argparse.Namespace) -> int:
    from privformers.mpc.process import run_party

    addrs = {r: getattr(a, r) for r in ROLES}
    print(f"[{a.role}] session {a.session.hex()[:12]}..., program {a.program}", file=sys.stderr, flush=True)
    try:
        args = party_args(a)
        tls = tls_from_args(a, a.role)
        report = run_party(a.role, a.program, args, a.session, addrs, a.frac_bits, a.timeout,
                           a.connect_timeout, tls=tls, exit_on_lost_peer=True, gemm_threads=a.gemm_threads,
                           gemm_device=a.gemm_device, max_message=max_message_from(a))
    except (TransportError, ValueError, KeyError, RuntimeError, OSError) as exc:
        print(f"{a.role} failed: {exc}", file=sys.stderr, flush=True)
        return 1
    print(strict_json(report) if a.json else strict_json(report, indent=2), flush=True)
    return 0


def _args_file(path: Path | None, what: str) -> dict | None:
    if path is None:
        return None
    try:
        return own_json(path.read_text(), f"{what} ({path})")
    except OSError as exc:
        raise ValueError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def cmd_launch(a: argparse.Namespace) -> int:
    from privformers.mpc.launch import LaunchError, launch_local, private_parts

    try:
        args = a.args
        client_args = _args_file(a.client_args_file, "--client-args-file")
        server_args = _args_file(a.server_args_file, "--server-args-file")
        private_parts(args, client_args, server_args)
    except ValueError as exc:
        print(f"privformers launch: error: {exc}", file=sys.stderr)
        return 2
    try:
        reports = launch_local(a.program, args, a.timeout, a.frac_bits, a.insecure_transport,
                               client_args=client_args, server_args=server_args)
    except LaunchError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(strict_json(reports) if a.json else strict_json(reports, indent=2))
    return 0


def cmd_certs(a: argparse.Namespace) -> int:
    """Write the CA and party certificates; refuse (exit 2) to replace files without --force, and to write
    to a symbolic link at all: a key must never land wherever a link points."""
    from privformers.mpc.transport.certs import CERT_FILES, make_certs

    hosts: dict[str, list[str]] = {}
    for role, names in a.host:
        hosts.setdefault(role, []).extend(names)
    links = [n for n in CERT_FILES if (a.out / n).is_symlink()]
    if links:
        print(f"privformers certs: error: {', '.join(str(a.out / n) for n in links)}: a symbolic link; certs never "
              "writes through a link (remove it, or choose another --out)", file=sys.stderr)
        return 2
    clash = [n for n in CERT_FILES if (a.out / n).exists()]
    if clash and not a.force:
        print(f"privformers certs: error: {a.out} already has {', '.join(clash)} (use --force to replace them)",
              file=sys.stderr)
        return 2
    try:
        files = make_certs(a.out, hosts or None, a.days)
    except OSError as exc:
        print(f"privformers certs: error: {exc}", file=sys.stderr)
        return 1
    print(f"CA: {a.out / 'ca.pem'} (its key {a.out / 'ca-key.pem'}: keep it offline)")
    for role, f in files.items():
        print(f"{role:6s}: --cert {f.cert} --key {f.key} --ca {f.ca}")
    return 0


def cmd_dealer(a: argparse.Namespace) -> int:
    import torch

    from privformers.mpc.service import DealerService

    torch.set_num_threads(1)
    try:
        tls = tls_from_args(a, "dealer")
        service = DealerService(a.listen, tls, a.timeout, a.max_sessions, a.pair_timeout,
                                max_message=max_message_from(a))
    except (TransportError, ValueError) as exc:
        print(f"dealer failed: {exc}", file=sys.stderr)
        return 1
    try:
        service.serve_forever()
    except KeyboardInterrupt:
        print("dealer stopped", file=sys.stderr)
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from privformers.mpc.demo import run_demo

    return run_demo(a.seed, a.timeout)


def main(argv: list[str] | None = None) -> int:
    """Only the engine's commands: party processes start without importing the other areas."""
    parser = argparse.ArgumentParser(prog="privformers")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def exit_now(code: int) -> None:
    """End the process at once, skipping the interpreter's teardown.

    A party process has imported torch and transformers' model code (some 2,800 modules); tearing
    them down takes about 1 s of CPU after the report is printed. The dealer finishes first, so on a
    few shared cores that second was taken from the client's and server's first online tokens
    (BENCHMARKS.md, "Party processes end at once"). Output is flushed first; no party leaves files
    or other state for an exit handler to clean up."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
