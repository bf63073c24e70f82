"""Where the three parties of a private generation run: the ``parties`` argument of ``generate``.

- ``InProcess``: threads of this process. No isolation at all (one process holds the prompt and
  the weights); for tests, examples and quick checks.
- ``LocalProcesses``: three processes of this machine over TLS 1.3 with fresh ephemeral
  certificates (what ``privformers generate`` runs). The prompt reaches the client process
  alone, the model folder the server alone (README, "What each local process sees").
- ``RemoteServer``: this process is the client; the server (``privformers serve`` or
  ``GenerationServer``) and the dealer (``privformers dealer`` or ``DealerService``) run elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from privformers.mpc.launch import LOCAL_DEFAULT, ServerGemm
from privformers.mpc.transport.tls import TlsConfig


@dataclass(frozen=True)
class InProcess:
    """The three parties as threads of this process (no isolation: tests and quick checks).

    timeout: seconds any party waits for a message."""

    timeout: float = 600.0


@dataclass(frozen=True)
class LocalProcesses:
    """Client, server and dealer as local processes over TLS 1.3 (ephemeral certificates).

    timeout: seconds for the whole session; insecure_transport: plain TCP (tests and measurements,
    with a warning); server_gemm: threads and device of the server's products with its weights;
    material_budget_mb: stream the dealer's material at most this many MB ahead of the online pass
    (bounded memory; None makes it all first). program: the registered party program (benchmarks give
    "generate-layers", which also reports each party's cost inside the decoder layers)."""

    timeout: float = 600.0
    insecure_transport: bool = False
    server_gemm: ServerGemm = LOCAL_DEFAULT
    material_budget_mb: float | None = None
    program: str = "generate"

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"timeout must be positive, got {self.timeout}")
        if self.material_budget_mb is not None and not self.material_budget_mb > 0:
            raise ValueError(f"material_budget_mb must be positive, got {self.material_budget_mb}")


@dataclass(frozen=True)
class RemoteServer:
    """A served model: the server's and the dealer's addresses, and this client's TLS files
    (``TlsConfig.from_files(cert, key, ca)``; None only for a plain-TCP test setup)."""

    server: tuple[str, int]
    dealer: tuple[str, int]
    tls: TlsConfig | None
    connect_timeout: float = 30.0
    io_timeout: float = 600.0


Parties = InProcess | LocalProcesses | RemoteServer
