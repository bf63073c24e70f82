"""What each local party process received, recorded from inside it: for tests that check which
process a secret reaches.

``install(folder)`` writes a ``sitecustomize.py`` that every Python process started with the returned
environment runs first. It records, per process (``<pid>.log``, one JSON line per event): its full
command line, its environment, what it read on stdin (for ``--args-stdin``), every file it opened
(Python's ``open`` audit event), and (``<pid>.<peer>.wire``) the bytes of every message it received
on a link. ``read(folder)`` gathers it by role. The hook runs before anything of the process's own.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

HOOK = r'''
import importlib.abc, importlib.util, io, json, os, sys
_dir = os.environ.get("PF_SPY_DIR")
if _dir:
    _log = open(os.path.join(_dir, f"{os.getpid()}.log"), "a", buffering=1)
    _wires = {}

    def _rec(kind, value):
        _log.write(json.dumps({"kind": kind, "value": value}) + "\n")

    _rec("argv", list(sys.orig_argv))
    _rec("env", dict(os.environ))
    if "--args-stdin" in sys.orig_argv:
        _data = sys.stdin.buffer.read()
        _rec("stdin", _data.decode("utf-8", "replace"))
        sys.stdin = io.TextIOWrapper(io.BytesIO(_data))

    def _audit(event, args):
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            _rec("open", os.fsdecode(args[0]))

    sys.addaudithook(_audit)

    def _wire(peer):
        if peer not in _wires:
            _wires[peer] = open(os.path.join(_dir, f"{os.getpid()}.{peer}.wire"), "ab")
        return _wires[peer]

    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != "privformers.mpc.transport.tcp":
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            run = spec.loader.exec_module

            def exec_module(module):
                run(module)
                recv = module.TcpChannel.recv

                def spy_recv(self):
                    msg = recv(self)
                    raw = bytes(msg) if isinstance(msg, (bytes, bytearray)) else msg.contiguous().numpy().tobytes()
                    out = _wire(self.peer)
                    out.write(raw)
                    out.flush()
                    return msg

                module.TcpChannel.recv = spy_recv

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _Finder())
'''


def install(folder: Path) -> dict[str, str]:
    """Write the hook into folder/hooks; the environment variables that turn it on (spy logs in folder/logs)."""
    hooks, logs = folder / "hooks", folder / "logs"
    hooks.mkdir(parents=True)
    logs.mkdir()
    (hooks / "sitecustomize.py").write_text(HOOK)
    path = os.pathsep.join(p for p in (str(hooks), os.environ.get("PYTHONPATH")) if p)
    return {"PF_SPY_DIR": str(logs), "PYTHONPATH": path}


@dataclass
class Seen:
    """What one process received: argv, environment, stdin, files opened, bytes from each peer."""

    pid: int
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    stdin: str = ""
    opened: list[str] = field(default_factory=list)
    wire: bytes = b""

    @property
    def role(self) -> str:
        if "privformers.mpc.reaper" in self.argv:
            return "reaper"
        return self.argv[self.argv.index("--role") + 1] if "--role" in self.argv else "other"

    def text(self) -> str:
        """Everything it was handed as text: command line, environment and stdin."""
        return "\n".join([*self.argv, *(f"{k}={v}" for k, v in self.env.items()), self.stdin])


def read(folder: Path) -> dict[str, list[Seen]]:
    """The spied processes by role (client, server, dealer, reaper, other)."""
    logs = folder / "logs"
    out: dict[str, list[Seen]] = {}
    for log in sorted(logs.glob("*.log")):
        seen = Seen(int(log.stem))
        for line in log.read_text().splitlines():
            event = json.loads(line)
            kind, value = event["kind"], event["value"]
            if kind == "argv":
                seen.argv = value
            elif kind == "env":
                seen.env = value
            elif kind == "stdin":
                seen.stdin = value
            else:
                seen.opened.append(value)
        seen.wire = b"".join(p.read_bytes() for p in sorted(logs.glob(f"{seen.pid}.*.wire")))
        out.setdefault(seen.role, []).append(seen)
    return out


def has_ids(text: str, ids: list[int]) -> bool:
    """Whether the token ids appear in order, one after another, among the integers written in text
    (any separators: JSON, commas, spaces)."""
    numbers = [int(m) for m in re.findall(r"-?\d+", text)]
    n = len(ids)
    return any(numbers[i:i + n] == ids for i in range(len(numbers) - n + 1))


def int_encodings(values: list[int], frac_bits: int = 16) -> list[bytes]:
    """Byte forms a plaintext integer sequence could take on the wire: int64 and int32 little-endian,
    as is and as fixed point with ``frac_bits``."""
    import torch

    t = torch.tensor(values, dtype=torch.int64)
    return [t.numpy().tobytes(), t.to(torch.int32).numpy().tobytes(), (t << frac_bits).numpy().tobytes()]
