"""What each event on a request's timeline says, in words: one table for the request page,
the admin's filters and anything else that names an event.

A status change reads "Shipped → Received" from its statuses; these are the words for the
events that keep the status (a charge, an assignment, a job's flag) and for each move.
"""

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Field

from .models import BorrowingRequest
from .workflow import MOVES

#: Events that are not moves: the services' and the jobs' (from and to status the same).
OTHER_EVENTS = {
    "submit": "Submitted",
    "add_charge": "Charge recorded",
    "void_charge": "Charge voided",
    "charge_invoiced": "Charge invoiced",
    "charge_paid": "Charge paid",
    "unrequested_item_matched": "Unrequested item matched",
    "assign": "Assigned",
    "set_max_cost": "Max cost changed",
    "flag_not_arrived": "Flagged not arrived",
    "flag_overdue": "Flagged overdue",
    "recalled": "Recalled by the lender",
    "lender_overdue": "Overdue, says the lender",
    "lender_status": "Word from the lender",
    "exchange_failed": "Exchange with the lender failed",
    "exchange_cleared": "Exchange failure cleared",
    "message_lender": "Message to the lender",
    "exchange_resent": "Sent to the lender again",
    "string_skipped": "Skipped in the lender string",
    "string_exhausted": "Lender string exhausted",
}

#: Events that are the team's business alone (the exchange's plumbing, the lender
#: string): a library's staff do not see them on the timeline.
TEAM_ONLY_EVENTS = frozenset(
    {
        "exchange_failed",
        "exchange_cleared",
        "exchange_resent",
        "message_lender",
        "set_lender_string",
        "string_skipped",
        "string_exhausted",
    }
)

#: Moves recorded as done, where the move's own words ask for it ("edit the item").
DONE = {
    "report_not_arrived": "Reported not arrived",
    "trace": "Traced with the lender",
    "replacement_shipped": "Replacement shipped",
    "cleared": "Cleared: it turned up",
    "edit_item": "Item corrected",
    "correct_shipment": "Shipment corrected",
    "correct_receipt": "Receipt corrected",
    "correct_return": "Return corrected",
    "reopen": "Reopened",
    "request_again": "Requested again",
    "withdraw_renewal": "Renewal withdrawn",
}

#: Moves whose status change reads better with their name: "Reopened: Received → Shipped".
TAKEN_BACK_OR_ASIDE = frozenset({"reopen", "cleared"})

#: Every action an event can record, with its words.
EVENT_LABELS = {
    **OTHER_EVENTS,
    **{action: move.label[:1].upper() + move.label[1:] for action, move in MOVES.items()},
    **DONE,
}


def event_label(action: str) -> str:
    return EVENT_LABELS.get(action, action.replace("_", " "))


def change_lines(changes: dict[str, list[str]] | None) -> list[tuple[str, str, str]]:
    """An event's changes as (what, before, after), in words: a field's label, and a
    choice's label for its value ("mail" reads "Mail"); "—" for nothing."""
    lines = []
    for field, (before, after) in (changes or {}).items():
        try:
            model_field = BorrowingRequest._meta.get_field(field)
        except FieldDoesNotExist:
            model_field = None
        if isinstance(model_field, Field):
            label = str(model_field.verbose_name)
            choices = {str(key): str(value) for key, value in model_field.flatchoices}
        else:
            label, choices = field.replace("_", " "), {}
        lines.append(
            (
                label[:1].upper() + label[1:],
                choices.get(before, before) or "—",
                choices.get(after, after) or "—",
            )
        )
    return lines
