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


def prompt_cost(rows: list[dict], final: dict | None, batch: int) -> dict:
    """One prompt's share of its pass (the pass's both-direction costs over its rows): first step
    (with the prefill), decode steps, and Embedding Resending's final head and token choice."""
    decode = rows[1:]
    out = {"batch": batch, "first_seconds": rows[0]["seconds"] / batch, "first_bytes": rows[0]["online_bytes"] / batch,
           "decode_steps": len(decode), "decode_seconds": sum(r["seconds"] for r in decode) / batch,
           "decode_bytes": sum(r["online_bytes"] for r in decode) / batch,
           "decode_rounds": sum(r["rounds"] for r in decode) / batch}
    if final is not None:
        out.update(final_seconds=final["seconds"] / batch, final_bytes=final["online_bytes"] / batch)
    return out


def plan_report(plan: object, client: dict, server: dict, client_meter: dict, server_meter: dict,
                groups: list[list[int]]) -> dict:
    """The cost report of a generation session: per pass its rows, width and per-step costs (both
    computing parties' bytes, the client's seconds and rounds), each prompt's share of its pass (in
    input order), totals, and the online cost per op class. A one-pass session also has ``per_token``
    (and ``final``) at the top, as ``generate`` has always reported."""
    passes, every, per_prompt = [], [], {}
    for (rows, width), c, s, group in zip(plan.passes, client["passes"], server["passes"], groups):
        entry: dict = {"rows": rows, "width": width, "per_token": per_token(c["per_token"], s["per_token"])}
        final = None
        if c.get("final") is not None:
            final = entry["final"] = per_token([c["final"]], [s["final"]])[0]
        passes.append(entry)
        every += entry["per_token"] + ([final] if final else [])
        for i in group:
            per_prompt[i] = prompt_cost(entry["per_token"], final, rows)
    out = {"passes": passes, "per_prompt": [per_prompt[i] for i in sorted(per_prompt)], "totals": totals(every),
           "breakdown": breakdown(client_meter, server_meter)}
    if len(passes) == 1:
        out["per_token"] = passes[0]["per_token"]
        if "final" in passes[0]:
            out["final"] = passes[0]["final"]
        first_c, first_s = client["passes"][0]["per_token"], server["passes"][0]["per_token"]
        out["per_token_breakdown"] = per_token_breakdown(first_c, first_s)
    for key in ("cpu_seconds", "offline_bytes", "_layers"):
        if key in client:
            out[key] = client[key]
    return out


def single_report(out: object) -> dict:
    """The one-prompt JSON report of ``generate`` and ``bench generate``: text, tokens and the cost."""
    cost = {k: v for k, v in out.cost.items() if k not in ("passes", "per_prompt")}
    return {"text": out.texts[0] if out.texts else " ".join(map(str, out.token_ids[0])),
            "tokens": out.token_ids[0], **cost}
