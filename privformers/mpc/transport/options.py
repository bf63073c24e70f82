"""Command-line options of the engine that several commands share: a party's link security (``--cert --key
--ca`` or ``--insecure-transport``), the largest message (``--max-message-mb``), and the fixed-point encoding's
fractional bits (``frac_bits``, an argparse type within the ring's limits)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from privformers.mpc.transport.tls import TlsConfig

DEFAULT_MAX_MESSAGE_MB = 2048   # tcp.MAX_MESSAGE in MiB (not imported: that would load torch for --help)

INSECURE_WARNING = ("WARNING: --insecure-transport: the links are plain TCP. Anyone who can read the traffic "
                    "can rebuild every secret (shares, masks, prompts, weights). Use only for tests and "
                    "measurements.")


def parse_addr(text: str) -> tuple[str, int]:
    """HOST:PORT for argparse (IPv6 hosts in brackets or bare)."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def warn_insecure() -> None:
    """Print the plain-TCP warning on stderr."""
    print(INSECURE_WARNING, file=sys.stderr, flush=True)


def add_tls_options(p: argparse.ArgumentParser) -> None:
    """--cert, --key, --ca (all three) or --insecure-transport."""
    g = p.add_argument_group("link security (TLS 1.3, mutual authentication)")
    g.add_argument("--cert", type=Path, help="this party's certificate (PEM), e.g. from `privformers certs`")
    g.add_argument("--key", type=Path, help="this party's private key (PEM)")
    g.add_argument("--ca", type=Path, help="the CA certificate that signed every party's certificate")
    g.add_argument("--insecure-transport", action="store_true",
                   help="plain TCP, no encryption or authentication: only for tests and measurements")


def tls_from_args(a: argparse.Namespace, role: str) -> TlsConfig | None:
    """The TlsConfig for role from the options (None, with a warning, for --insecure-transport).

    Raises ValueError when the options are incomplete or the certificate is for another role."""
    given = [a.cert, a.key, a.ca]
    if a.insecure_transport:
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
    tls = TlsConfig(Path(a.cert), Path(a.key), Path(a.ca))
    tls.check_role(role)
    tls.context(True)
    tls.context(False)   # load now: a bad key or CA is reported before any connection
    return tls


def add_max_message_option(p: argparse.ArgumentParser) -> None:
    """--max-message-mb: the largest payload a peer may announce in one message."""
    from privformers.argtypes import positive_float

    p.add_argument("--max-message-mb", type=positive_float, default=DEFAULT_MAX_MESSAGE_MB, metavar="MiB",
                   help="the largest message a peer may announce, in MiB (default %(default)g): larger ones are "
                        "refused before anything is allocated. GPT-2 base at its full 1024-token context sends "
                        "about 1.8 GiB at once; raise it for more")


def max_message_from(a: argparse.Namespace) -> int:
    """--max-message-mb in bytes (ValueError when not positive)."""
    if not a.max_message_mb > 0:
        raise ValueError(f"--max-message-mb must be positive, got {a.max_message_mb:g}")
    return int(a.max_message_mb * (1 << 20))


def frac_bits(text: str) -> int:
    """An argparse type: fractional bits of the fixed-point encoding, within what the ring supports."""
    from privformers.mpc.ring import MAX_FRAC_BITS, MIN_FRAC_BITS  # torch: only when the option is given

    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not MIN_FRAC_BITS <= value <= MAX_FRAC_BITS:
        raise argparse.ArgumentTypeError(f"expected a whole number from {MIN_FRAC_BITS} to {MAX_FRAC_BITS}, "
                                         f"got {text!r}")
    return value
