"""The lender directory: the team's pages to find a lender and keep its availability.

Member library staff get, at the same address, a read-only page of each lender's
availability for returns and for lending (is it safe to send a loan back?); a lender's own
page, its terms and the reports' recording stay the team's (403). Lists carry each lender's
newest availability report in the same query, so they cost the same number of queries at
any page size.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.pagination import paginate
from members.access import signed_in_user, team_only

from . import selectors, services
from .forms import AvailabilityReportForm, LenderAvailabilitySearchForm, LenderSearchForm
from .models import Lender


@login_required
def lender_list(request: HttpRequest) -> HttpResponse:
    """The team's directory; for a library's staff, lenders' availability, read-only."""
    user = signed_in_user(request)
    if user.is_library_staff:
        return _availability_list(request)
    team_only(user)
    form = LenderSearchForm(request.GET)
    if not form.is_valid():
        return render(request, "lenders/list.html", {"form": form}, status=400)
    lenders = selectors.search_lenders(
        selectors.lenders_with_availability(),
        text=form.cleaned_data["q"],
        kind=form.cleaned_data["kind"],
        charges_fees=form.charges_fees(),
    )
    page = paginate(request, lenders)
    today = timezone.localdate()
    rows = [(lender, selectors.availability_summary(lender, today=today)) for lender in page]
    return render(request, "lenders/list.html", {"form": form, "page": page, "rows": rows})


def _availability_list(request: HttpRequest) -> HttpResponse:
    """Lenders with what each said most recently about returns and lending, and when."""
    form = LenderAvailabilitySearchForm(request.GET)
    if not form.is_valid():
        return render(request, "lenders/availability.html", {"form": form}, status=400)
    lenders = selectors.search_lenders(
        # Lenders the service still works with; the team's own records (fees, sources,
        # lenders it stopped using) stay the team's.
        selectors.lenders_with_availability().filter(is_active=True),
        text=form.cleaned_data["q"],
        accepting_returns=form.accepting_returns(),
    )
    page = paginate(request, lenders)
    today = timezone.localdate()
    rows = []
    for lender in page:
        availability = selectors.Availability(lender)
        rows.append((lender, availability, availability.closure_not_over(today)))
    context = {"form": form, "page": page, "rows": rows}
    return render(request, "lenders/availability.html", context)


@login_required
def lender_detail(request: HttpRequest, pk: int) -> HttpResponse:
    team_only(signed_in_user(request))
    return _render_detail(request, pk, AvailabilityReportForm())


def _render_detail(
    request: HttpRequest, pk: int, form: AvailabilityReportForm, status: int = 200
) -> HttpResponse:
    lender = get_object_or_404(selectors.lenders_with_availability(), pk=pk)
    context = {
        "lender": lender,
        "current": selectors.availability_summary(lender, today=timezone.localdate()),
        "history": paginate(request, selectors.availability_history(lender)),
        "form": form,
    }
    return render(request, "lenders/detail.html", context, status=status)


@require_POST
@login_required
def lender_availability_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a new availability report; on bad input, the lender's page with the errors."""
    user = signed_in_user(request)
    team_only(user)
    lender = get_object_or_404(Lender, pk=pk)
    form = AvailabilityReportForm(request.POST)
    if form.is_valid():
        try:
            report = services.record_availability(lender, actor=user, **form.cleaned_data)
        except ValidationError as error:
            form.add_workflow_errors(error)
        else:
            summary = ", ".join(
                selectors.availability_summary(report, today=timezone.localdate())
            ).lower()
            messages.success(request, f"Availability recorded for {lender.name}: {summary}.")
            return redirect("lender_detail", pk=lender.pk)
    return _render_detail(request, lender.pk, form, status=400)
