"""Small display helpers for request pages."""

from django import template

from requests_app.selectors import FLAGS
from requests_app.workflow import MOVES

register = template.Library()


@register.inclusion_tag("includes/flags.html")
def flags(req):
    """The request's flags as labelled badges (a pending renewal already shows as its status)."""
    return {"flags": [(flag, FLAGS[flag]) for flag in req.flags if flag != "renewal_pending"]}


@register.filter
def get(mapping, key):
    return mapping.get(key)


_EVENT_LABELS = {
    "submit": "Submitted",
    "add_charge": "Charge recorded",
    **{action: move.label[:1].upper() + move.label[1:] for action, move in MOVES.items()},
}


@register.filter
def event_label(event) -> str:
    """What a timeline event did, in words: "Shipped → Received", "Charge recorded"."""
    if event.from_status != event.to_status:
        before = event.get_from_status_display() or "New"
        return f"{before} → {event.get_to_status_display()}"
    return _EVENT_LABELS.get(event.action, event.action.replace("_", " "))
