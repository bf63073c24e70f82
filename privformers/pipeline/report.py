"""The pipeline's one privacy report: every phase's event and epsilon, the composed total, and the quality.

``privacy_report(ledger, ...)`` reads the events from the ledger (so a resumed run reports everything it
ever spent, failed attempts included) and asks both dp-accounting accountants for each phase alone, for
the running total after it, and for the total. ``OUT/pipeline_report.json`` is strict JSON (an infinite
epsilon is null, with a line saying why); ``OUT/pipeline_report.txt`` is the short text.
"""

from __future__ import annotations

import math

from privformers.jsonout import strict_json
from privformers.pipeline.budget import ACCOUNTANTS, PLD_DISCRETIZATION, composed, epsilons, finite_or_none
from privformers.pipeline.ledger import Ledger

ACCOUNTANT_NOTE = (f"dp-accounting: RdpAccountant over privformers' RDP orders and PLDAccountant (value "
                   f"discretisation {PLD_DISCRETIZATION}), add/remove-one neighbours, Poisson sampling; each phase is "
                   "SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(sigma)), steps), the run their "
                   "ComposedDpEvent")
NO_GUARANTEE = "none: a phase used the private rows without noise, so no epsilon bounds this run"
PUBLIC_STUDENT = "post-processing: the DP teacher's outputs on public rows; no privacy cost, no event"

REPORT_JSON, REPORT_TEXT = "pipeline_report.json", "pipeline_report.txt"


def _eps(values: dict[str, float]) -> dict[str, float | None]:
    return {a: finite_or_none(values[a]) for a in ACCOUNTANTS}


def privacy_report(ledger: Ledger, target_epsilon: float | None, accountant: str, student_data: str) -> dict:
    """Each ledger entry's event, its epsilon alone and the running total after it; the total; under both
    accountants at the ledger's delta. The non-private baseline has no epsilon (null)."""
    phases, events = [], []
    delta = ledger.delta if ledger.delta is not None else 1e-5
    for number, entry in enumerate(ledger.entries, start=1):
        event = entry.event()
        events.append(event)
        alone, after = epsilons([event], delta), epsilons(events, delta)
        phases.append({"phase": entry.phase, "attempt": number, "status": entry.status, "data": "private",
                       "rows": entry.rows, "sample_rate": entry.sample_rate,
                       "noise_multiplier": entry.noise_multiplier, "steps": entry.steps,
                       "epsilon": _eps(alone), "epsilon_total_after": _eps(after)})
    if student_data == "public":
        phases.append({"phase": "student", "data": "public", "epsilon": {a: 0.0 for a in ACCOUNTANTS},
                       "note": PUBLIC_STUDENT})
    total = epsilons(events, delta)
    private = ledger.private and all(math.isfinite(v) for v in total.values())
    report = {"private": private, "target_epsilon": target_epsilon, "delta": ledger.delta,
              "calibrated_with": accountant if ledger.private else None, "accountants": ACCOUNTANT_NOTE,
              "phases": phases, "total_epsilon": _eps(total), "event": repr(composed(events)) if events else None}
    if not private:
        report["privacy"] = NO_GUARANTEE
    return report


def write_report(out, report: dict) -> str:
    """Write ``pipeline_report.json`` and ``pipeline_report.txt`` into ``out``; return the text."""
    text = format_report(report)
    (out / REPORT_JSON).write_text(strict_json(report, indent=1) + "\n")
    (out / REPORT_TEXT).write_text(text + "\n")
    return text


def _fmt(value: float | None, digits: int = 3) -> str:
    return "inf" if value is None else f"{value:.{digits}f}"


def format_report(report: dict) -> str:
    """A few lines: what each phase protects and spent, the total, and the quality in plaintext and under MPC."""
    p = report["privacy"]
    lines = [f"privformers pipeline: {report['pipeline']['task']}, student recipe {report['pipeline']['recipe']} "
             f"distilled on {report['pipeline']['student_data']} data"]
    if p["private"]:
        total = p["total_epsilon"]
        lines.append(f"privacy: total epsilon {_fmt(total['rdp'])} (RDP) / {_fmt(total['pld'])} (PLD) at delta "
                     f"{p['delta']:g}; target {p['target_epsilon']:g}, calibrated with {p['calibrated_with'].upper()}")
    else:
        lines.append(f"privacy: {p['privacy']}")
    for ph in p["phases"]:
        if ph["data"] == "public":
            lines.append(f"  {ph['phase']:<8} public rows: epsilon 0 ({PUBLIC_STUDENT.split(':')[0]})")
            continue
        sigma = "none (non-private)" if not ph["noise_multiplier"] else f"{ph['noise_multiplier']:.4f}"
        alone, after = ph["epsilon"], ph["epsilon_total_after"]
        lines.append(f"  {ph['phase']:<8} private rows ({ph['status']}): q {ph['sample_rate']:.4g} x {ph['steps']} "
                     f"steps, sigma {sigma}; epsilon {_fmt(alone['rdp'])} RDP / {_fmt(alone['pld'])} PLD alone, "
                     f"{_fmt(after['rdp'])} / {_fmt(after['pld'])} in total")
    q = report.get("quality") or {}
    for name in ("teacher", "student"):
        entry = q.get(name)
        if not entry:
            continue
        if "plaintext_accuracy" in entry:
            line = (f"{name}: accuracy {100 * entry['plaintext_accuracy_all']:.2f} in plaintext on all "
                    f"{q['heldout_rows']} held-out rows; on the first {q['rows']}: "
                    f"{100 * entry['plaintext_accuracy']:.2f} plaintext")
            if "mpc_accuracy" in entry:
                line += (f", {100 * entry['mpc_accuracy']:.2f} under MPC "
                         f"({100 * entry['mpc_plaintext_agreement']:.1f}% same prediction; "
                         f"{entry['online_seconds_per_row']:.2f} s, "
                         f"{entry['online_bytes_per_row'] / 1e6:.1f} MB, {entry['rounds_per_row']:.0f} rounds per row)")
        else:
            metric = next(iter(entry["plaintext"]))
            line = (f"{name}: {metric} {entry['plaintext_all'][metric]:.2f} in plaintext on all {q['heldout_sources']} "
                    f"held-out sources; on the first {q['sources']}: {entry['plaintext'][metric]:.2f} plaintext")
            if "mpc" in entry:
                cost = entry["cost"]
                line += (f", {entry['mpc'][metric]:.2f} under MPC ({cost['decode_seconds_per_token']:.2f} s, "
                         f"{cost['decode_bytes_per_token'] / 1e6:.2f} MB, {cost['decode_rounds_per_token']:.0f} rounds "
                         "per token)")
        lines.append(line)
    lines.append("protects: the private rows' contributors by (epsilon, delta)-DP of everything in this folder but the "
                 "ledger; under MPC, the client's inputs from the server and the student's weights from the client")
    return "\n".join(lines)
