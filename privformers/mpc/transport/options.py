"""A party's link security and message limit from plain values: ``--cert --key --ca`` or
``--insecure-transport``, and ``--max-message-mb`` (the command line's flags, parsed in
``privformers.cli.options``)."""

from __future__ import annotations

import sys
from pathlib import Path

from privformers.mpc.transport.tls import TlsConfig

DEFAULT_MAX_MESSAGE_MB = 2048   # tcp.MAX_MESSAGE in MiB (not imported: that would load torch for --help)

INSECURE_WARNING = ("WARNING: --insecure-transport: the links are plain TCP. Anyone who can read the traffic "
                    "can rebuild every secret (shares, masks, prompts, weights). Use only for tests and "
                    "measurements.")


def warn_insecure() -> None:
    """Print the plain-TCP warning on stderr."""
    print(INSECURE_WARNING, file=sys.stderr, flush=True)


def tls_config(cert: Path | str | None, key: Path | str | None, ca: Path | str | None, insecure: bool,
               role: str) -> TlsConfig | None:
    """The TlsConfig for role from a certificate, key and CA (None, with a warning, when ``insecure``).

    Raises ValueError when the files are incomplete or missing, or the certificate is for another role."""
    given = [cert, key, ca]
    if insecure:
        if any(given):
            raise ValueError("--insecure-transport cannot be combined with --cert/--key/--ca")
        warn_insecure()
        return None
    if not all(given):
        missing = [n for n, v in zip(("--cert", "--key", "--ca"), given) if not v]
        raise ValueError(f"missing {', '.join(missing)}: links are TLS with mutual authentication; make "
                         "certificates with `privformers certs --out DIR`, or pass --insecure-transport "
                         "for an unencrypted test run")
    for flag, path in zip(("--cert", "--key", "--ca"), given):
        if not Path(path).is_file():
            raise ValueError(f"{flag} {path}: no such file")
    tls = TlsConfig(Path(cert), Path(key), Path(ca))
    tls.check_role(role)
    tls.context(True)
    tls.context(False)   # load now: a bad key or CA is reported before any connection
    return tls


def max_message_bytes(mb: float) -> int:
    """A message limit in MiB, in bytes (ValueError when not positive)."""
    if not mb > 0:
        raise ValueError(f"--max-message-mb must be positive, got {mb:g}")
    return int(mb * (1 << 20))
