"""What each event on a request's timeline says, in words: one table for the request page,
the admin's filters and anything else that names an event.

A status change reads "Shipped → Received" from its statuses; these are the words for the
events that keep the status (a charge, an assignment, a job's flag) and for each move.
"""

from .workflow import MOVES

#: Events that are not moves: the services' and the jobs' (from and to status the same).
OTHER_EVENTS = {
    "submit": "Submitted",
    "add_charge": "Charge recorded",
    "assign": "Assigned",
    "set_max_cost": "Max cost changed",
    "flag_not_arrived": "Flagged not arrived",
    "flag_overdue": "Flagged overdue",
}

#: Every action an event can record, with its words.
EVENT_LABELS = {
    **OTHER_EVENTS,
    **{action: move.label[:1].upper() + move.label[1:] for action, move in MOVES.items()},
}


def event_label(action: str) -> str:
    return EVENT_LABELS.get(action, action.replace("_", " "))
