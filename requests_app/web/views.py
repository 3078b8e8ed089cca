"""Pages for borrowing requests.

Views fetch through selectors (scoped to the user: another library's request is a 404),
validate with a form, act through one workflow or service function, and respond. A move
the workflow refuses (someone acted first) comes back as a message, never an error page.
"""

import datetime as dt
from collections.abc import Iterable
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.errors import NotPermitted, WorkflowError
from core.forms import WorkflowForm
from core.pagination import page_of, paginate
from lenders.selectors import (
    availability_warnings,
    lenders_with_availability,
    refusing_returns,
    search_lenders,
)
from members.access import library_staff_only, signed_in_user, team_only
from members.models import MemberLibrary, Patron, User

from .. import exports, selectors, services, sourcing, traces
from ..duplicates import Duplicate, DuplicateRefusal
from ..flags import DUE_SOON_DAYS
from ..models import BorrowingRequest, Status
from ..timeline import TEAM_ONLY_EVENTS
from .actions import BY_SLUG, offered_actions
from .filters import QueueFilter, RequestFilter
from .forms import (
    BulkForm,
    LenderPickerForm,
    NewRequestForm,
    ResolveUnrequestedForm,
    UnrequestedItemForm,
    exchange_of,
)
from .openurl import initial_from_openurl


def get_request_for(user: User, pk: int) -> BorrowingRequest:
    """The request if this user may see it; 404 otherwise (its existence is not revealed)."""
    visible = selectors.requests_visible_to(user).select_related(
        "library", "lender", "patron", "assigned_to"
    )
    return get_object_or_404(selectors.with_return_availability(visible), pk=pk)


def _total(counts: Iterable[int | None]) -> int | None:
    """The sum of capped counts; None ("1,000+") when one of them reached the cap."""
    total = 0
    for count in counts:
        if count is None:
            return None
        total += count
    return total


# --- Home and lists ---------------------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """A library's dashboard: what needs its staff now. The team goes to its queue."""
    user = signed_in_user(request)
    if not user.is_library_staff:
        return redirect("queue")
    # Library staff always have a library (the ``user_library_staff_has_library`` check).
    library_id = cast(int, user.library_id)
    today = timezone.localdate()
    ours = selectors.requests_for_list(user)
    rows = selectors.list_rows_for(user)
    context = {
        "counts": selectors.status_counts(ours),
        "shipped": rows(ours.filter(status=Status.SHIPPED).order_by("shipped_on", "id")[:10]),
        "not_arrived": rows(selectors.with_flag(ours, "not_arrived")[:10]),
        "overdue": rows(selectors.overdue(ours, today)[:10]),
        "due_soon": rows(selectors.due_soon(ours, today)[:10]),
        "due_soon_days": DUE_SOON_DAYS,
        "renewals": selectors.renewals_answered_since(
            library_id, timezone.now() - dt.timedelta(days=14)
        )[:10],
        "statuses": Status.choices,
    }
    return render(request, "requests_app/dashboard.html", context)


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    """A library's requests. The team works every library's from the queue instead."""
    user = signed_in_user(request)
    if not user.is_library_staff:
        return redirect("queue")
    visible = selectors.requests_for_list(user)
    filters = RequestFilter(request.GET, queryset=visible, library_id=user.library_id)
    if not filters.is_valid():
        return render(request, "requests_app/list.html", {"filters": filters}, status=400)
    # Counted and paged as the queue is: a library's years of requests cost no more.
    counts = selectors.capped_status_counts(filters.any_status)
    return render(
        request,
        "requests_app/list.html",
        {
            "filters": filters,
            "page": page_of(request, filters.qs, rows=selectors.list_rows_for(user)),
            "counts": counts,
            "total": _total(counts.values()),
            "statuses": Status.choices,
            "cap": selectors.COUNT_CAP,
        },
    )


# --- A new request ----------------------------------------------------------------------


@login_required
def request_new(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    library_staff_only(user)
    # Library staff always have a library (the ``user_library_staff_has_library`` check).
    library = cast(MemberLibrary, user.library)
    duplicates: list[Duplicate] = []
    if request.method == "POST":
        form = NewRequestForm(request.POST, library=library, actor=user)
        if form.is_valid():
            try:
                req = _submit(form, user, library)
            except ValidationError as error:
                form.add_workflow_errors(error)
                if isinstance(error, DuplicateRefusal):
                    duplicates = error.duplicates
            else:
                messages.success(request, f"Request #{req.pk} submitted: {req.title}.")
                return redirect("request_detail", pk=req.pk)
        status = 400
    else:
        initial = {
            "max_cost": library.max_cost,
            # What the library's players play (its profile), unless staff choose otherwise.
            "dvd_region": library.dvd_region,
            "video_encoding": library.video_encoding,
            **initial_from_openurl(request.GET),
        }
        form = NewRequestForm(initial=initial, library=library, actor=user)
        status = 200
    context = {
        "form": form,
        "library": library,
        "duplicates": duplicates,
        "duplicate_groups": [
            ("For this patron", [d for d in duplicates if d.patron_is_same]),
            ("For other patrons", [d for d in duplicates if not d.patron_is_same]),
        ],
    }
    return render(request, "requests_app/new.html", context, status=status)


def _submit(form: NewRequestForm, user: User, library: MemberLibrary) -> BorrowingRequest:
    data = form.cleaned_data
    return services.submit_for_card(
        actor=user,
        library=library,
        card_number=data["card_number"],
        patron_name=data["patron_name"],
        patron_email=data["patron_email"],
        homebound=data["homebound"],
        citation=form.citation(),
        needed_by=data["needed_by"],
        max_cost=data["max_cost"],
        notes=data["notes"],
        duplicate_reason=data["duplicate_reason"],
    )


# --- One request ------------------------------------------------------------------------


@login_required
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, get_request_for(signed_in_user(request), pk))


@login_required
def lender_slip(request: HttpRequest, pk: int) -> HttpResponse:
    """The request as a lender sees it, to print or paste into a request to the lender: the
    item and the library's notes on it, the dates, the max cost, our numbers and where to
    ship. No patron: the RUSA ILL code asks that suppliers see no patron's name, so the
    slip names the request only."""
    user = signed_in_user(request)
    team_only(user)
    context = {"req": get_request_for(user, pk), "currency": settings.ILLDESK_CURRENCY}
    return render(request, "requests_app/lender_slip.html", context)


def _render_detail(
    request: HttpRequest, req: BorrowingRequest, bound: tuple[str, WorkflowForm] | None = None
) -> HttpResponse:
    user = signed_in_user(request)
    prefetch_related_objects([req], "renewals")  # the actions and the page read them
    actions = [
        (action, bound[1] if bound and bound[0] == action.slug else action.unbound_form(req))
        for action in offered_actions(req, user)
    ]
    actions = [(a, form) for a, form in actions if a.applies is None or a.applies(form)]
    steps = [(a, form) for a, form in actions if not a.side]
    confirming = {a.slug for a, _ in steps if a.asks_to_confirm(req)}
    events = list(req.events.select_related("actor"))
    if not user.is_team:
        events = [event for event in events if event.action not in TEAM_ONLY_EVENTS]
    context: dict[str, Any] = {
        "req": req,
        "actions": steps,
        "next_steps": [(a, form) for a, form in steps if a.is_primary(req)],
        "more_steps": [(a, form) for a, form in steps if not a.is_primary(req)],
        "side_actions": {a.slug: (a, form) for a, form in actions if a.side},
        "confirming": confirming,
        "events": events,
        "messages_on_request": req.messages.select_related("author"),
        "charges": req.charges.select_related("voided_by", "voids"),
        "renewals": req.renewals.all(),
        "pending_renewal": selectors.pending_renewal(req),
        "attempts": req.attempts.select_related("lender") if user.is_team else None,
        "show_patron_name": user.is_library_staff,
        "trace_step": traces.step_of(req),
        "trace_words": traces.STEP_WORDS.get(traces.step_of(req), ""),
        "reportable_from": _reportable_from(req, user),
        "unfilled_reason": _unfilled_reason(req, events),
        "followed_by": req.followed_by.order_by("pk").first(),
        "unrequested_reports": req.unrequested_reports.select_related("library"),
        "exchange": exchange_of(req) if user.is_team else None,
    }
    context |= _return_hold(req)
    if any(a.slug == "lender-string" for a, _ in actions):  # the team, finding a lender
        context |= _sourcing(req)
    refused = bound is not None
    if any(a.slug == "send-to-lender" for a, _ in actions):
        context |= _lender_search(request, req)
        refused = refused or bool(context["lender_search"].errors)
    return render(request, "requests_app/detail.html", context, status=400 if refused else 200)


def _sourcing(req: BorrowingRequest) -> dict[str, Any]:
    """For the team, while a lender is being found: the request's lender string and the
    lenders suggested for it (``sourcing``), with the five best that can take it now for a
    one-click string."""
    suggestions = sourcing.suggested_lenders(req)
    return {
        "lender_string": selectors.lender_string(req),
        "suggestions": suggestions,
        "suggested_string": sourcing.best_string(suggestions),
        "format_words": sourcing.format_words(req.format),
    }


def _return_hold(req: BorrowingRequest) -> dict[str, Any]:
    """For an item with the library whose lender is not accepting returns, that lender's
    report (its date and note), for the page to say before the item goes back."""
    if not selectors.return_on_hold(req):
        return {}
    return {"returns_refused": refusing_returns(req.lender_id)}


def _reportable_from(req: BorrowingRequest, user: User) -> dt.date | None:
    """For the library, the day a loan in transit may be reported not arrived, while that
    day is still to come (the page says when, instead of offering the report)."""
    if not user.is_library_staff or req.status != Status.SHIPPED or req.trace:
        return None
    day = traces.reportable_from(req)
    return day if day is not None and day > timezone.localdate() else None


def _unfilled_reason(req: BorrowingRequest, events: list) -> str:
    """Why no lender could supply an unfilled request: the reason its ending gave."""
    if req.status != Status.UNFILLED:
        return ""
    endings = [event for event in events if event.action == "mark_unfilled"]
    return endings[-1].note if endings else ""


def _lender_search(request: HttpRequest, req: BorrowingRequest) -> dict[str, Any]:
    """Lenders matching ``?lender_q=`` with their newest availability and any warnings; a
    search that cannot be one (too long, a NUL character) comes back with its error."""
    search = LenderPickerForm(request.GET)
    text = search.cleaned_data["lender_q"] if search.is_valid() else ""
    if not text:
        return {"lender_search": search, "lender_q": ""}
    found = search_lenders(lenders_with_availability().filter(is_active=True), text=text)[:10]
    today = timezone.localdate()
    return {
        "lender_search": search,
        "lender_q": text,
        "lender_results": [
            (lender, availability_warnings(lender, on_date=today, max_cost=req.max_cost))
            for lender in found
        ],
    }


@require_POST
@login_required
def request_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    user = signed_in_user(request)
    req = get_request_for(user, pk)
    if action not in BY_SLUG:
        raise Http404("No such action.")
    page_action = BY_SLUG[action]
    if not page_action.permitted(req, user):
        raise PermissionDenied("You may not do this on this request.")
    # Answered no on its confirmation page: nothing is done, even when it would not ask now
    # (a lender that takes returns again meanwhile does not turn "holding it" into a return).
    if page_action.confirm and request.POST.get("confirmed") == "no":
        messages.info(request, page_action.declined)
        return redirect("request_detail", pk=req.pk)
    asks = page_action.asks_to_confirm(req)
    form = page_action.bound_form(req, request.POST)
    if form.is_valid():
        # An action that ends something is tried first and undone, so the page asks to
        # confirm only what would be done, and says what is wrong with the rest at once.
        trying = asks and request.POST.get("confirmed") != "yes"
        try:
            with transaction.atomic():
                result = page_action.perform(req.pk, user, form)
                transaction.set_rollback(trying)
        except NotPermitted as refused:
            raise PermissionDenied(refused.message) from refused
        except WorkflowError as refused:
            messages.error(request, refused.message)
            return redirect("request_detail", pk=req.pk)
        except ValidationError as error:
            form.add_workflow_errors(error)
        else:
            if trying:
                context = {"req": req, "action": page_action, "form": form}
                context |= _return_hold(req)
                return render(request, page_action.confirm_template, context)
            if page_action.shows_result and isinstance(result, BorrowingRequest):
                messages.success(request, f"{page_action.done} This is the new request.")
                return redirect("request_detail", pk=result.pk)
            messages.success(request, page_action.done)
            return redirect("request_detail", pk=req.pk)
    return _render_detail(request, req, bound=(action, form))


# --- The team's queue -------------------------------------------------------------------


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """Every library's requests, filtered in the URL, paged without counting them all."""
    user = signed_in_user(request)
    team_only(user)
    rows = selectors.requests_for_list(user)
    filters = QueueFilter(request.GET, queryset=rows, user=user)
    context = {
        "filters": filters,
        "statuses": Status.choices,
        "cap": selectors.COUNT_CAP,
    }
    if not filters.is_valid():
        return render(request, "requests_app/queue.html", context, status=400)
    counts = selectors.capped_status_counts(filters.any_status)
    context |= {
        "page": page_of(
            request,
            selectors.with_return_availability(filters.qs),
            rows=selectors.list_rows_for(user),
        ),
        "counts": counts,
        # At least the cap when one open status reached it ("1,000+").
        "open_count": _total(counts[status] for status in selectors.OPEN_STATUSES),
        "bulk_form": BulkForm(),
        "today": timezone.localdate(),
        "unrequested_open": selectors.open_unrequested_count(),
    }
    return render(request, "requests_app/queue.html", context)


@require_POST
@login_required
def queue_bulk(request: HttpRequest) -> HttpResponse:
    """Take, assign or start sourcing the selected requests, each on its own."""
    user = signed_in_user(request)
    team_only(user)
    form = BulkForm(request.POST)
    back = request.POST.get("back", "")
    back = reverse("queue") + (f"?{back}" if back and not back.startswith(("/", "http")) else "")
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(str(message) for message in errors))
        return redirect(back)
    done, refused = services.bulk_act(
        form.cleaned_data["ids"],
        actor=user,
        action=form.cleaned_data["action"],
        assignee=form.cleaned_data["assignee"],
    )
    if done:
        named = ", ".join(f"#{pk}" for pk in done)
        messages.success(
            request, f"Done for {len(done)} request{'s' if len(done) > 1 else ''}: {named}."
        )
    for message in refused:
        messages.error(request, message)
    return redirect(back)


# --- Items received but not requested ---------------------------------------------------


@login_required
def unrequested_item_new(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    library_staff_only(user)
    form = UnrequestedItemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.report_unrequested_item(actor=user, **form.cleaned_data)
        messages.success(
            request,
            "Thank you: the team will tell you whose item it is and where to send it.",
        )
        return redirect("unrequested_item_list")
    status = 400 if request.method == "POST" else 200
    return render(request, "requests_app/unrequested_new.html", {"form": form}, status=status)


@login_required
def unrequested_item_list(request: HttpRequest) -> HttpResponse:
    """Items received unasked: the library's own, with what the team found; every
    library's for the team, the open ones first when it asks (``?open=yes``)."""
    user = signed_in_user(request)
    reports = selectors.unrequested_items_visible_to(user)
    only_open = request.GET.get("open") == "yes"
    if only_open:
        reports = reports.filter(resolved_at__isnull=True).order_by("created_at", "id")
    context = {"page": paginate(request, reports), "only_open": only_open}
    return render(request, "requests_app/unrequested_list.html", context)


@login_required
def unrequested_item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One report: what arrived, and what became of it; the team resolves it here."""
    user = signed_in_user(request)
    report = get_object_or_404(selectors.unrequested_items_visible_to(user), pk=pk)
    form = None
    status = 200
    if user.is_team and report.resolved_at is None:
        form = ResolveUnrequestedForm(request.POST or None, prefix="resolve")
        if request.method == "POST":
            if form.is_valid():
                data = form.cleaned_data
                try:
                    services.resolve_unrequested_item(
                        report.pk,
                        actor=user,
                        outcome=data["outcome"],
                        note=data["note"],
                        request_id=data["request"],
                        send_to=data["send_to"],
                        returned_to=data["returned_to"],
                    )
                except WorkflowError as refused:
                    messages.error(request, refused.message)
                    return redirect("unrequested_item_detail", pk=report.pk)
                except ValidationError as error:
                    form.add_workflow_errors(error)
                else:
                    messages.success(request, "Resolved; the library is told what to do.")
                    return redirect("unrequested_item_detail", pk=report.pk)
            status = 400
    elif request.method == "POST":
        raise PermissionDenied("This report is resolved, or not yours to resolve.")
    context = {
        "report": report,
        "form": form,
        "matches": selectors.possible_matches(report) if form is not None else [],
    }
    return render(request, "requests_app/unrequested_detail.html", context, status=status)


# --- Export (requests_app.exports) ----------------------------------------------------------


def _export_scope(request: HttpRequest, user: User) -> tuple[MemberLibrary | None, str]:
    """Whose data: a library's staff their own library's; the team the whole service, or
    one library's by ``?library=CODE`` (the code back when no library has it)."""
    if user.is_library_staff:
        return user.library, ""
    code = request.GET.get("library", "").strip()[:20]
    if not code:
        return None, ""
    if "\x00" in code:  # no code holds one, and no database takes one
        return None, code.replace("\x00", "") or "\ufffd"
    library = MemberLibrary.objects.filter(ill_code__iexact=code).first()
    return library, "" if library else code


@login_required
def export(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    library, unknown = _export_scope(request, user)
    query = f"?library={library.ill_code}" if library is not None and user.is_team else ""
    context = {"library": library, "unknown": unknown, "query": query}
    return render(request, "requests_app/export.html", context, status=404 if unknown else 200)


@login_required
def export_file(request: HttpRequest, name: str) -> StreamingHttpResponse:
    user = signed_in_user(request)
    library, unknown = _export_scope(request, user)
    if unknown:
        raise Http404("No such library.")
    if name == "patrons.csv":
        if not user.is_library_staff:  # names and e-mail addresses: the library's own
            raise PermissionDenied("A library's patrons are its own staff's to export.")
        stream, content_type = (
            exports.patrons_csv(Patron.objects.filter(library=library)),
            "text/csv",
        )
    elif name in exports.FILES:
        make, content_type = exports.FILES[name]
        requests = selectors.requests_visible_to(user)
        if library is not None:
            requests = requests.filter(library=library)
        stream = make(requests)
    else:
        raise Http404("No such file.")
    scope = library.ill_code.lower() if library is not None else "service"
    response = StreamingHttpResponse(stream, content_type=f"{content_type}; charset=utf-8")
    filename = f"illdesk-{scope}-{timezone.localdate():%Y-%m-%d}-{name}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
