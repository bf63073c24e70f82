"""CLI: ``privformers party`` (one party, any host), ``launch`` (three local processes), ``demo``."""

from __future__ import annotations

import argparse
import json
import sys

from privformers.mpc.party import ROLES
from privformers.mpc.transport.base import TransportError


def _addr(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def _session(text: str) -> bytes:
    try:
        sid = bytes.fromhex(text)
    except ValueError:
        sid = b""
    if len(sid) != 16:
        raise argparse.ArgumentTypeError("session id must be 32 hex digits (16 bytes)")
    return sid


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("party", help="run one party (client, server or dealer) of a secure session over TCP",
                       description="Run one party. All three must be given the same --session, program and "
                       "addresses. The dealer listens on its address for client and server; the server "
                       "listens on its address for the client; the client connects to both.")
    p.add_argument("--role", choices=ROLES, required=True)
    p.add_argument("--program", required=True, help="a registered program, e.g. linear-demo, echo")
    p.add_argument("--session", type=_session, required=True,
                   help="session id: 32 hex digits, the same for all three")
    for role in ROLES:
        p.add_argument(f"--{role}", type=_addr, required=True, metavar="HOST:PORT",
                       help=f"the {role}'s address" + (" (it listens nowhere; used in messages)"
                                                       if role == "client" else " (it listens there)"))
    p.add_argument("--args", default="{}", help="program arguments as a JSON object")
    p.add_argument("--frac-bits", type=int, default=16)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for any message from a peer")
    p.add_argument("--connect-timeout", type=float, default=30.0,
                   help="seconds to wait for the peers to connect")
    p.add_argument("--json", action="store_true", help="print the report as one JSON line")
    p.set_defaults(func=cmd_party)

    p = sub.add_parser("launch", help="run a program with three local party processes over TCP")
    p.add_argument("--program", required=True)
    p.add_argument("--args", default="{}", help="program arguments as a JSON object")
    p.add_argument("--frac-bits", type=int, default=16)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_launch)

    p = sub.add_parser("demo", help="a secure linear layer with three processes over TCP, explained")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=60.0)
    p.set_defaults(func=cmd_demo)


def cmd_party(a: argparse.Namespace) -> int:
    from privformers.mpc.process import run_party

    addrs = {r: getattr(a, r) for r in ROLES}
    print(f"[{a.role}] session {a.session.hex()[:12]}..., program {a.program}", file=sys.stderr, flush=True)
    try:
        report = run_party(a.role, a.program, json.loads(a.args), a.session, addrs, a.frac_bits, a.timeout,
                           a.connect_timeout, exit_on_lost_peer=True)
    except (TransportError, ValueError, KeyError, RuntimeError, OSError) as exc:
        print(f"{a.role} failed: {exc}", file=sys.stderr, flush=True)
        return 1
    print(json.dumps(report) if a.json else json.dumps(report, indent=2), flush=True)
    return 0


def cmd_launch(a: argparse.Namespace) -> int:
    from privformers.mpc.launch import LaunchError, launch_local

    try:
        reports = launch_local(a.program, json.loads(a.args), a.timeout, a.frac_bits)
    except LaunchError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(json.dumps(reports) if a.json else json.dumps(reports, indent=2))
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


if __name__ == "__main__":
    sys.exit(main())
