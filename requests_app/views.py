"""Pages for borrowing requests.

Views fetch through selectors (scoped to the user: another library's request is a 404),
validate with a form, act through one workflow or service function, and respond. A move
the workflow refuses (someone acted first) comes back as a message, never an error page.
"""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from members.services import find_or_add_patron

from . import selectors, services, workflow
from .filters import RequestFilter
from .forms import (
    CancelForm,
    MessageForm,
    NewRequestForm,
    NotArrivedForm,
    ReceiveForm,
    RenewalForm,
    ReturnForm,
    UnrequestedItemForm,
)
from .models import BorrowingRequest, Status, UnrequestedItemReport
from .openurl import initial_from_openurl

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def paginate(request: HttpRequest, queryset: QuerySet) -> Page:
    """The page asked for, ``?page_size=`` rows long (at most 500)."""
    try:
        size = min(max(int(request.GET.get("page_size", PAGE_SIZE)), 1), MAX_PAGE_SIZE)
    except ValueError:
        size = PAGE_SIZE
    return Paginator(queryset, size).get_page(request.GET.get("page"))


def get_request_for(user, pk: int) -> BorrowingRequest:
    """The request if this user may see it; 404 otherwise (its existence is not revealed)."""
    return get_object_or_404(
        selectors.requests_visible_to(user).select_related(
            "library", "lender", "patron", "assigned_to"
        ),
        pk=pk,
    )


def library_staff_only(user) -> None:
    if not user.is_library_staff:
        raise PermissionDenied("This page is for member library staff.")


# --- Home and lists ---------------------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """A library's dashboard: what needs its staff now. The team goes to the request list."""
    if not request.user.is_library_staff:
        return redirect("request_list")
    today = timezone.localdate()
    ours = selectors.requests_for_list(request.user)
    context = {
        "counts": selectors.status_counts(ours),
        "shipped": ours.filter(status=Status.SHIPPED).order_by("shipped_on", "id")[:10],
        "not_arrived": selectors.with_flag(ours, "not_arrived")[:10],
        "overdue": selectors.overdue(ours, today)[:10],
        "due_soon": selectors.due_soon(ours, today)[:10],
        "renewals": selectors.renewals_answered_since(
            request.user.library_id, timezone.now() - dt.timedelta(days=14)
        )[:10],
        "statuses": Status.choices,
    }
    return render(request, "requests_app/dashboard.html", context)


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    visible = selectors.requests_for_list(request.user)
    filters = RequestFilter(request.GET, queryset=visible)
    if not filters.is_valid():
        return render(request, "requests_app/list.html", {"filters": filters}, status=400)
    without_status = request.GET.copy()
    without_status.pop("status", None)
    counts = selectors.status_counts(RequestFilter(without_status, queryset=visible).qs)
    return render(
        request,
        "requests_app/list.html",
        {
            "filters": filters,
            "page": paginate(request, filters.qs),
            "counts": counts,
            "total": sum(counts.values()),
            "statuses": Status.choices,
        },
    )


# --- A new request ----------------------------------------------------------------------


@login_required
def request_new(request: HttpRequest) -> HttpResponse:
    library_staff_only(request.user)
    library = request.user.library
    if request.method == "POST":
        form = NewRequestForm(request.POST, library=library, actor=request.user)
        if form.is_valid():
            try:
                req = _submit(form, request.user, library)
            except ValidationError as error:
                form.add_workflow_errors(error)
            else:
                messages.success(request, f"Request #{req.pk} submitted: {req.title}.")
                return redirect("request_detail", pk=req.pk)
        status = 400
    else:
        initial = {"max_cost": library.max_cost, **initial_from_openurl(request.GET)}
        form = NewRequestForm(initial=initial, library=library, actor=request.user)
        status = 200
    return render(
        request, "requests_app/new.html", {"form": form, "library": library}, status=status
    )


def _submit(form: NewRequestForm, user, library) -> BorrowingRequest:
    """Add the patron if new and submit, together: a refused request adds no patron."""
    data = form.cleaned_data
    with transaction.atomic():
        patron = find_or_add_patron(
            library=library,
            card_number=data["card_number"],
            name=data["patron_name"],
            email=data["patron_email"],
            homebound=data["homebound"],
        )
        return workflow.submit_request(
            actor=user,
            library=library,
            patron=patron,
            citation=form.citation(),
            needed_by=data["needed_by"],
            max_cost=data["max_cost"],
            notes=data["notes"],
        )


# --- One request ------------------------------------------------------------------------

#: The actions on a request's page: URL name -> (the workflow action it is, or None for
#: one anybody who sees the request may take; its form; how to call it).
ACTIONS = {
    "receive": (
        "mark_received",
        ReceiveForm,
        lambda pk, user, d: workflow.mark_received(pk, actor=user, received_on=d["received_on"]),
    ),
    "not-arrived": (
        "report_not_arrived",
        NotArrivedForm,
        lambda pk, user, d: workflow.report_not_arrived(pk, actor=user, note=d["note"]),
    ),
    "request-renewal": (
        "request_renewal",
        RenewalForm,
        lambda pk, user, d: workflow.request_renewal(pk, actor=user, due_date=d["due_date"]),
    ),
    "return": (
        "mark_returned",
        ReturnForm,
        lambda pk, user, d: workflow.mark_returned(
            pk, actor=user, method=d["method"], tracking_number=d["tracking_number"]
        ),
    ),
    "cancel": (
        "cancel",
        CancelForm,
        lambda pk, user, d: workflow.cancel(pk, actor=user, reason=d["reason"]),
    ),
    "message": (
        None,
        MessageForm,
        lambda pk, user, d: services.post_message(pk, actor=user, body=d["body"]),
    ),
}
DONE = {
    "receive": "Marked received.",
    "not-arrived": "Reported as not arrived; the team will check with the lender.",
    "request-renewal": "Renewal requested; you will hear the lender's answer.",
    "return": "Marked returned.",
    "cancel": "Request cancelled.",
    "message": "Message sent to the team.",
}


@login_required
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, get_request_for(request.user, pk))


def _render_detail(
    request: HttpRequest, req: BorrowingRequest, bound: tuple[str, object] | None = None
) -> HttpResponse:
    allowed = set(workflow.allowed_actions(req, request.user))
    forms = {
        slug: form_class(prefix=slug)
        for slug, (action, form_class, _) in ACTIONS.items()
        if action is None or action in allowed
    }
    if bound is not None:
        forms[bound[0]] = bound[1]
    context = {
        "req": req,
        "forms": forms,
        "events": req.events.select_related("actor"),
        "messages_on_request": req.messages.select_related("author"),
        "charges": req.charges.all(),
        "renewals": req.renewals.all(),
        "show_patron_name": request.user.is_library_staff,
    }
    return render(
        request, "requests_app/detail.html", context, status=200 if bound is None else 400
    )


@require_POST
@login_required
def request_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    req = get_request_for(request.user, pk)
    if action not in ACTIONS:
        raise Http404("No such action.")
    _, form_class, perform = ACTIONS[action]
    form = form_class(request.POST, prefix=action)
    if form.is_valid():
        try:
            perform(req.pk, request.user, form.cleaned_data)
        except workflow.WorkflowError as refused:
            messages.error(request, refused.message)
            return redirect("request_detail", pk=req.pk)
        except ValidationError as error:
            form.add_workflow_errors(error)
        else:
            messages.success(request, DONE[action])
            return redirect("request_detail", pk=req.pk)
    return _render_detail(request, req, bound=(action, form))


# --- Items received but not requested ---------------------------------------------------


@login_required
def unrequested_item_new(request: HttpRequest) -> HttpResponse:
    library_staff_only(request.user)
    form = UnrequestedItemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.report_unrequested_item(actor=request.user, **form.cleaned_data)
        messages.success(
            request,
            "Thank you: the team will tell you whose item it is and where to send it.",
        )
        return redirect("unrequested_item_list")
    status = 400 if request.method == "POST" else 200
    return render(request, "requests_app/unrequested_new.html", {"form": form}, status=status)


@login_required
def unrequested_item_list(request: HttpRequest) -> HttpResponse:
    reports = UnrequestedItemReport.objects.select_related("library", "reported_by")
    if request.user.is_library_staff:
        reports = reports.filter(library_id=request.user.library_id)
    elif not request.user.is_team:
        reports = reports.none()
    return render(
        request, "requests_app/unrequested_list.html", {"page": paginate(request, reports)}
    )
