"""Secure two-party computation engine: ring, shares, dealer, protocols, transport, meter."""
