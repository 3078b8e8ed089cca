"""Pages for borrowing requests. Views fetch through selectors and act through the workflow."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from .selectors import requests_for_list, requests_visible_to
from .workflow import allowed_actions


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The newest requests this user may see."""
    page = Paginator(requests_for_list(request.user), 50).get_page(request.GET.get("page"))
    return render(request, "requests_app/home.html", {"page": page})


@login_required
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    req = get_object_or_404(
        requests_visible_to(request.user).select_related("library", "lender", "patron"), pk=pk
    )
    events = req.events.select_related("actor")
    return render(
        request,
        "requests_app/detail.html",
        {"req": req, "events": events, "actions": allowed_actions(req, request.user)},
    )
