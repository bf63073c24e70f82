"""One private pipeline: DP fine-tuning of a teacher on private rows, an MPC-friendly student distilled from it
(on public rows, or on the private rows with DP-SGD), its check under MPC, and one privacy report.

``run_pipeline(PipelineConfig(...))`` or ``privformers pipeline``; budget events and their composition in
``budget``, the record of every use of the private rows in ``ledger``, the overlap check in ``overlap``.
"""

from privformers.lazy import lazy_exports

_EXPORTS = {
    "BudgetConfig": "config",
    "BudgetError": "budget",
    "CheckConfig": "config",
    "Ledger": "ledger",
    "LedgerError": "ledger",
    "OverlapError": "overlap",
    "PhaseEvent": "budget",
    "PipelineConfig": "config",
    "PipelineConfigError": "config",
    "StudentConfig": "config",
    "TeacherConfig": "config",
    "plan": "budget",
    "run_pipeline": "run",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
