"""Combining the client's and server's reports into one cost summary (both directions of the wire)."""

from __future__ import annotations

from privformers.mpc.meter import OP_CLASSES


def per_token(client: list[dict], server: list[dict]) -> list[dict]:
    """Per generated token: the client's wall time and rounds, bytes sent by client plus server.

    The first entry includes the prefill of the prompt."""
    return [{"seconds": c["seconds"], "online_bytes": c["online_bytes"] + s["online_bytes"], "rounds": c["rounds"]}
            for c, s in zip(client, server)]


def per_token_breakdown(client: list[dict], server: list[dict]) -> list[dict]:
    """Per generated token and op class: the client's seconds and rounds, bytes sent by both."""
    out = []
    for c, s in zip(client, server):
        if "classes" not in c or "classes" not in s:
            return []
        out.append({k: {"seconds": v["seconds"], "online_bytes": v["online_bytes"] + s["classes"][k]["online_bytes"],
                        "rounds": v["rounds"]} for k, v in c["classes"].items()})
    return out


def totals(rows: list[dict]) -> dict:
    """Sums over the generated tokens."""
    return {k: round(sum(r[k] for r in rows), 6) for k in ("seconds", "online_bytes", "rounds")}


def breakdown(client_meter: dict, server_meter: dict) -> dict:
    """Online cost per op class: client seconds and rounds, bytes sent by both computing parties."""
    c, s = client_meter["breakdown"], server_meter["breakdown"]
    return {k: {"seconds": c[k]["seconds"], "online_bytes": c[k]["online_bytes"] + s[k]["online_bytes"],
                "rounds": c[k]["rounds"]} for k in OP_CLASSES}


def summarize(client: dict, server: dict, client_meter: dict, server_meter: dict) -> dict:
    """tokens, per_token, totals and breakdown from the two computing parties' results and meters.

    With Embedding Resending the results also hold "final" (the LM head and argmax over all
    steps, after the loop): it is reported as such and counted in the totals."""
    rows = per_token(client["per_token"], server["per_token"])
    out = {"tokens": client["tokens"], "per_token": rows}
    if client.get("final") is not None:
        out["final"] = per_token([client["final"]], [server["final"]])[0]
        rows = [*rows, out["final"]]
    return {**out, "totals": totals(rows), "breakdown": breakdown(client_meter, server_meter),
            "per_token_breakdown": per_token_breakdown(client["per_token"], server["per_token"])}
