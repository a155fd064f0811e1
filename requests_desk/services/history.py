"""What the audit log keeps of a demand: the whole snapshot when it is logged, then
what each action changed (with the status, the outcome and the action's subject)."""
from __future__ import annotations

from ..models import Demand

# What every audit event of a demand action names, changed or not, and what each action
# names besides: its subject, so the timeline can say "proposed a scope of 3 items" even
# when counsel proposes again the scope an approver returned.
ALWAYS_AUDITED = ("status", "outcome")
SUBJECT_OF = {"propose-scope": ("scope",), "record-production": ("production",), "assign": ("assignee_id",),
              "set-due": ("due_at",)}


def changes(action: str, before: dict, after: dict) -> tuple[dict, dict]:
    """An action's audit before/after: the snapshot fields it changed, with the status,
    the outcome and the action's subject always (``demand.log`` keeps the whole snapshot)."""
    keep = ALWAYS_AUDITED + SUBJECT_OF.get(action, ())
    missing = object()
    return (
        {k: v for k, v in before.items() if k in keep or after.get(k, missing) != v},
        {k: v for k, v in after.items() if k in keep or before.get(k, missing) != v},
    )


def snapshot(demand: Demand) -> dict:
    """What the audit log keeps of a demand when it is logged; later events keep what
    changed (``changes``)."""
    return {
        "reference": demand.reference,
        "status": demand.status,
        "outcome": demand.outcome,
        "received_at": demand.received_at,
        "country": demand.country,
        "process_type": demand.process_type,
        "legal_reference": demand.legal_reference,
        "emergency": demand.emergency,
        "due_at": demand.due_at,
        "assignee_id": demand.assignee_id,
        "targets": [t.identifier for t in demand.targets],
        "requested": [i.as_dict() for i in demand.items_of("requested")],
        "scope": [i.as_dict() for i in demand.items_of("scope")],
        "production": [i.as_dict() for i in demand.items_of("production")],
    }
