"""Options shared by several commands: link security (``--cert --key --ca`` or ``--insecure-transport``),
``--max-message-mb``, the local server's ``--server-gemm-*`` and ``HOST:PORT`` addresses.

Each ``add_*`` adds the flags; each ``*_from`` turns the parsed flags into what the library takes
(``TlsConfig``, bytes, ``ServerGemm``), raising ValueError with the reason."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from privformers.cli.argtypes import positive_float
from privformers.mpc.transport.options import DEFAULT_MAX_MESSAGE_MB

if TYPE_CHECKING:
    from privformers.mpc.launch import ServerGemm
    from privformers.mpc.transport.tls import TlsConfig


def parse_addr(text: str) -> tuple[str, int]:
    """HOST:PORT for argparse (IPv6 hosts in brackets or bare)."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


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
    from privformers.mpc.transport.options import tls_config

    return tls_config(a.cert, a.key, a.ca, a.insecure_transport, role)


def add_max_message_option(p: argparse.ArgumentParser) -> None:
    """--max-message-mb: the largest payload a peer may announce in one message."""
    p.add_argument("--max-message-mb", type=positive_float, default=DEFAULT_MAX_MESSAGE_MB, metavar="MiB",
                   help="the largest message a peer may announce, in MiB (default %(default)g): larger ones are "
                        "refused before anything is allocated. GPT-2 base at its full 1024-token context sends "
                        "about 1.8 GiB at once; raise it for more")


def max_message_from(a: argparse.Namespace) -> int:
    """--max-message-mb in bytes (ValueError when not positive)."""
    from privformers.mpc.transport.options import max_message_bytes

    return max_message_bytes(a.max_message_mb)


def add_server_gemm_options(p: argparse.ArgumentParser) -> None:
    """--server-gemm-device and --server-gemm-threads for commands that launch local parties."""
    p.add_argument("--server-gemm-device", default="cpu", metavar="DEVICE",
                   help="where the server's products with its plaintext weights run: cpu (default), cuda or "
                        "cuda:N; the other parties stay on the CPU. A device that is not there is an error")
    p.add_argument("--server-gemm-threads", type=int, default=None, metavar="N",
                   help="the server's threads for those products on the CPU (default: 2 where there are 2 cores)")


def server_gemm_from(a: argparse.Namespace) -> ServerGemm:
    """The options of ``add_server_gemm_options``, checked (ValueError with the reason)."""
    from privformers.mpc.launch import server_gemm

    return server_gemm(a.server_gemm_threads, a.server_gemm_device)
