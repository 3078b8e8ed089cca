"""Small display helpers for request pages."""

from django import template
from django.utils import timezone

from requests_app.jobs import TIMELINE_ACTIONS as JOB_TIMELINE_ACTIONS
from requests_app.selectors import FLAGS
from requests_app.services import TIMELINE_ACTIONS
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
    **TIMELINE_ACTIONS,
    **JOB_TIMELINE_ACTIONS,
    **{action: move.label[:1].upper() + move.label[1:] for action, move in MOVES.items()},
}


@register.filter
def event_label(event) -> str:
    """What a timeline event did, in words: "Shipped → Received", "Charge recorded"."""
    if event.from_status != event.to_status:
        before = event.get_from_status_display() or "New"
        return f"{before} → {event.get_to_status_display()}"
    return _EVENT_LABELS.get(event.action, event.action.replace("_", " "))


@register.filter
def count_label(count: int | None, cap: int) -> str:
    """A tab's count: the number, or "10,000+" where counting stopped."""
    return f"{count:,}" if count is not None else f"{cap:,}+"


@register.filter
def days_since(moment, today) -> int:
    """Whole days from ``moment`` (a datetime or date) to ``today``."""
    day = timezone.localtime(moment).date() if hasattr(moment, "hour") else moment
    return (today - day).days


@register.filter
def split(text: str) -> list[str]:
    return text.split()


@register.simple_tag(takes_context=True)
def querystring_page(context, prefix: str, number: int) -> str:
    """This page's address with ``<prefix>-page`` set: one pager per table on a page."""
    query = context["request"].GET.copy()
    query[f"{prefix}-page"] = number
    return f"?{query.urlencode()}"
