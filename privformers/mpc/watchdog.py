"""A party process's watchdog: when a peer's process dies mid-session, end ours at once with a clear error.

The party's own thread notices a lost peer only when it next talks to that peer, which can be
minutes away (the dealer computes key material for long stretches, and a party may be waiting
on the other peer). The watchdog looks at every link twice a second without reading from it;
on a lost peer it prints ``<role> failed: <peer> at HOST:PORT disconnected ...`` and ends the
process with exit code 1, so no party lingers after another one is gone.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Protocol

LINGER_S = 1.0  # after a peer is lost, wait this long before leaving ourselves


class Watched(Protocol):
    """A link that can tell, without reading, that its peer is gone (``TcpChannel``)."""

    def vanished(self) -> str | None: ...


def exit_process(message: str) -> None:
    """Print the failure and end this process now (exit 1): its session cannot go on."""
    print(message, file=sys.stderr, flush=True)
    os._exit(1)


class Watchdog:
    """Checks the links every ``interval`` s until stopped; calls ``on_lost`` once with the reason."""

    def __init__(self, role: str, links: Mapping[str, Watched], on_lost: Callable[[str], None] = exit_process,
                 interval: float = 0.5, linger: float = LINGER_S) -> None:
        self.role, self._links, self._on_lost = role, dict(links), on_lost
        self._interval, self._linger = interval, linger
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"watchdog-{role}", daemon=True)

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        """No more checks (call before closing the links yourself)."""
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            lost = [why for why in (link.vanished() for link in self._links.values()) if why]
            if lost and not self._stop.is_set():
                print(f"[{self.role}] lost a peer: {'; '.join(lost)}", file=sys.stderr, flush=True)
                # a moment for the third party, also linked to the lost peer, to notice it first-hand
                # (rather than notice us leaving), unless our own thread ends the session first
                if self._stop.wait(self._linger):
                    return
                self._on_lost(f"{self.role} failed: {'; '.join(lost)}")
                return
