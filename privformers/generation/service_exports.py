"""The dealer service, exported here so generation users find the server and the dealer side by side."""

from privformers.mpc.service import DealerService

__all__ = ["DealerService"]
