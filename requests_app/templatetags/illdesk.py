"""Small display helpers for request pages."""

import functools
from html import escape

from django import template
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from requests_app import timeline
from requests_app.flags import LIST_FLAGS, RENEWAL_PENDING, TEAM_ONLY, flags_of
from requests_app.models import Format, Status
from requests_app.traces import OPEN_STEPS, STEP_BADGES, step_of

register = template.Library()


@register.simple_tag
def flags(req, team: bool = False, today=None) -> SafeString:
    """The request's flags as labelled badges (a pending renewal already shows as its
    status; the team's own flags, ``TEAM_ONLY``, only for the team)."""
    hidden = {RENEWAL_PENDING.name} | (set() if team else TEAM_ONLY)
    return format_html_join(
        "",
        ' <span class="flag flag-{}">{}</span>',
        ((name, LIST_FLAGS[name].label) for name in flags_of(req, today) if name not in hidden),
    )


def _truncated(text: str, length: int) -> str:
    """``text`` cut to ``length`` characters, the last an ellipsis (as ``truncatechars``)."""
    return text if len(text) <= length else text[: length - 1] + "…"


def _date_or_dash(day) -> str:
    return day.isoformat() if day else "—"


def _status_and_flags(req, today) -> str:
    """The status badge and the flags after it, as both list rows show them, and where a
    trace the team still works stands."""
    status = f'<span class="status status-{escape(req.status)}">{Status(req.status).label}</span>'
    step = step_of(req)
    if step in OPEN_STEPS:
        status += f' <span class="flag flag-trace">Trace: {STEP_BADGES[step]}</span>'
    return status + flags(req, today=today)


def _reverse_detail(pk: int) -> str:
    """A request page's address: reversed once, then filled in for each row."""
    return _detail_pattern(get_script_prefix(), get_urlconf()).format(pk)


@functools.lru_cache(maxsize=8)
def _detail_pattern(prefix: str, urlconf: str | None) -> str:
    return reverse("request_detail", args=[0], urlconf=urlconf).replace("/0/", "/{}/")


@register.simple_tag
def queue_row(req, today) -> SafeString:
    """One row of the team's queue, from a ``selectors.ListRow``.

    Built in Python, as the Django admin builds its change list rows, with the standard
    library's ``html.escape`` on every value: the queue shows 50 to 500 rows, and an
    include per row was most of the page's time (docs/performance.md, "Rendering").
    """
    pk = req.pk
    url = _reverse_detail(pk)
    item = f'<a href="{url}">{escape(_truncated(req.title, 90))}</a>'
    if req.author:
        item += f' <span class="muted">/ {escape(_truncated(req.author, 40))}</span>'
    kind = escape(Format(req.format).label) + (f" · {escape(req.isbn)}" if req.isbn else "")
    state = _status_and_flags(req, today)
    if getattr(req, "return_on_hold", False):
        state += ' <span class="flag">Lender not taking returns</span>'
    lender = "—"
    if req.lender_name:
        name = escape(req.lender_name)
        lender = f'<abbr title="{name}">{escape(req.lender_symbol) or name}</abbr>'
    return SafeString(
        "<tr>"
        f'<td><input type="checkbox" name="ids" value="{pk}" id="select-{pk}">'
        f'<label for="select-{pk}" class="visually-hidden">Select request {pk}</label></td>'
        f'<td><a href="{url}">{pk}</a></td>'
        f'<td><abbr title="{escape(req.library_name)}">{escape(req.library_code)}</abbr></td>'
        f'<td>{item}<br><span class="muted">{kind}</span></td>'
        f"<td>{state}</td>"
        f'<td class="date">{days_since(req.created_at, today)} d</td>'
        f"<td>{lender}</td>"
        f"<td>{escape(req.assignee) if req.assignee else '—'}</td>"
        f'<td class="date">{_date_or_dash(req.needed_by)}</td>'
        f'<td class="date">{_date_or_dash(req.due_date)}</td>'
        "</tr>"
    )


@register.simple_tag
def request_row(req, user) -> SafeString:
    """One row of a library's list or dashboard table (a ``selectors.ListRow``), built as
    ``queue_row`` is: the patron for the library's own staff, the library's code for those
    who see more than one library's requests."""
    url = _reverse_detail(req.pk)
    item = f'<a href="{url}">{escape(req.title)}</a>'
    if req.author:
        item += f' <span class="muted">/ {escape(req.author)}</span>'
    patron = ""
    if user.is_library_staff:  # the library's own patrons: name and card
        shown = "—"
        if req.patron_name is not None:
            shown = f"{escape(req.patron_name)}<br>{escape(req.patron_card)}"
        patron = f'<td class="patron">{shown}</td>'
    else:
        item += f'<br><span class="muted">{escape(req.library_code)}</span>'
    lender = escape(req.lender_name) if req.lender_name else "—"
    return SafeString(
        "<tr>"
        f'<td><a href="{url}">{req.pk}</a></td>'
        f"<td>{item}</td>"
        f"{patron}"
        f"<td>{_status_and_flags(req, timezone.localdate())}</td>"
        f"<td>{lender}</td>"
        f"<td>{timezone.localtime(req.created_at).date().isoformat()}</td>"
        f"<td>{_date_or_dash(req.due_date)}</td>"
        "</tr>"
    )


@register.filter
def carries(req, name: str) -> bool:
    """Whether the request carries the flag ``name`` (``requests_app.flags``)."""
    return LIST_FLAGS[name].carried_by(req)


@register.filter
def pretty_xml(text: str) -> str:
    """An ISO 18626 message laid out one element a line, for people to read; the text as
    it is when it is not XML (a refused message). Parsed with no DTD, entities or network."""
    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=True
    )
    try:
        root = etree.fromstring(text.encode(), parser=parser)
    except (etree.XMLSyntaxError, ValueError):
        return text
    return etree.tostring(root, pretty_print=True, encoding="unicode")


@register.filter
def get(mapping, key):
    return mapping.get(key)


@register.filter
def event_label(event) -> str:
    """What a timeline event did, in words: "Shipped → Received", "Charge recorded"."""
    if event.from_status != event.to_status:
        before = event.get_from_status_display() or "New"
        change = f"{before} → {event.get_to_status_display()}"
        if event.action in timeline.TAKEN_BACK_OR_ASIDE:
            return f"{timeline.event_label(event.action)}: {change}"
        return change
    return timeline.event_label(event.action)


@register.filter
def change_lines(changes) -> list[tuple[str, str, str]]:
    """A correction's changes as (what, before, after), in words."""
    return timeline.change_lines(changes)


@register.filter
def trace_label(step: str) -> str:
    """Where a not-arrived loan's trace stands, in a word or two."""
    return STEP_BADGES.get(step, step)


@register.filter
def count_label(count: int | None, cap: int) -> str:
    """A tab's count: the number, or "1,000+" where counting stopped."""
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
