"""The three-namespace run (scripts/netns_three_hosts.py): client, server and dealer on three network
namespaces, traffic over veth pairs and a bridge, TLS on every link; tokens match plaintext greedy."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "netns_three_hosts.py"


def load_script():
    spec = importlib.util.spec_from_file_location("netns_three_hosts", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_two_tokens(prefix: str, subnet: str, delay_ms: float, userspace_delay: bool):
    """The script's run for 2 tokens at 1 Gbit/s (skips where namespaces cannot be made): (module, output)."""
    mod = load_script()
    try:
        mod.check_available()
    except mod.NetnsUnavailable as exc:
        pytest.skip(f"network namespaces unavailable: {exc}")
    args = argparse.Namespace(
        tokens=2, prompt=mod.DEFAULT_PROMPT, prompt_ids=None, model=None, rate="1gbit", delay_ms=delay_ms, check=True,
        prefix=prefix, subnet=subnet, timeout=1800.0, userspace_delay=userspace_delay)
    return mod, mod.run(args)


@pytest.mark.slow
def test_three_namespaces_generate_the_plaintext_tokens():
    mod, out = run_two_tokens("pft", "10.78.0", 0.5, userspace_delay=False)
    assert out["plaintext_match"] is True and len(out["tokens"]) == 2
    assert out["shaping"]["rate"] == "1gbit"
    assert out["decode_rounds_per_token"] > 0 and out["meter_lan_estimate_seconds_per_token"] > 0
    assert not any(ns.startswith("pft-") for ns in mod.sh("ip", "netns", "list").stdout.split())


@pytest.mark.slow
def test_three_namespaces_with_the_delay_in_the_user_space_switch():
    mod, out = run_two_tokens("pfu", "10.79.0", 1.0, userspace_delay=True)
    assert out["plaintext_match"] is True and len(out["tokens"]) == 2
    assert out["shaping"]["qdisc"] == "tbf" and out["shaping"]["delay_by"].startswith("user-space switch")
    assert out["shaping"]["measured_tcp_rtt_us"] >= 2000           # the switch holds each frame 1 ms each way
    assert not any(ns.startswith("pfu-") for ns in mod.sh("ip", "netns", "list").stdout.split())
