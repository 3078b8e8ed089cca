"""A patron's name, card number and e-mail never reach the logs, Celery task arguments,
e-mail or the lender slip: those refer to a request (and a patron) by id."""

import datetime as dt
import logging

import pytest
from celery.app.task import Task
from django.core import mail
from django.utils import timezone

from requests_app import jobs, workflow
from requests_app.models import BorrowingRequest
from requests_app.scenarios import drive_to

NAME, CARD, EMAIL = "Ottoline Quibbly-Vance", "29870012345678", "o.quibbly@example.net"


def leaks(text: str) -> list[str]:
    return [secret for secret in (NAME, CARD, EMAIL) if secret in text]


@pytest.fixture
def queued_tasks(monkeypatch):
    """Every task queued, with its arguments, instead of sending it to the broker."""
    queued = []

    def record(task, args=None, kwargs=None, **options):
        queued.append((task.name, args, kwargs))

    monkeypatch.setattr(Task, "apply_async", record)
    return queued


def test_a_whole_loan_leaves_no_patron_data_in_logs_tasks_or_mail(
    api, alice, rita, lender, caplog, queued_tasks, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(alice).post(
            "/api/v1/requests/",
            {
                "title": "The Quiet Shelf",
                "patron": {"card_number": CARD, "name": NAME, "email": EMAIL},
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
        refused = api(alice).post(  # a refusal is logged too: by path, not by body
            "/api/v1/requests/",
            {"title": "", "patron": {"card_number": CARD, "name": NAME}},
            format="json",
        )
        assert refused.status_code == 400
        req = BorrowingRequest.objects.get(pk=response.json()["id"])
        drive_to(req, "received", team=rita, staff=alice, lender=lender, shipped_days_ago=0)
        BorrowingRequest.objects.filter(pk=req.pk).update(
            due_date=timezone.localdate() - dt.timedelta(days=3)
        )
        for job in (jobs.flag_overdue, jobs.remind_due_soon, jobs.flag_not_arrived):
            job()
        workflow.mark_returned(req.pk, actor=alice, method="delivery")
        workflow.complete(req.pk, actor=rita)
        BorrowingRequest.objects.filter(pk=req.pk).update(
            ended_at=timezone.now() - dt.timedelta(days=400)
        )
        jobs.clear_patron_data()

    assert "Bad Request: /api/v1/requests/" in caplog.text
    assert "Patron data retention: 1 requests detached" in caplog.text
    assert not leaks(caplog.text)
    assert queued_tasks, "the journey queues notifications"
    for name, args, kwargs in queued_tasks:
        assert all(isinstance(arg, int | str) for arg in args or ()), name
        assert not leaks(repr((args, kwargs))), name
    for message in mail.outbox:
        assert not leaks(message.subject + message.body + " ".join(message.to))
    req.refresh_from_db()
    assert req.patron is None  # and then it aged out


def test_the_lender_slip_names_the_request_and_the_library_never_the_patron(
    client, request_in, rita, patron
):
    req = request_in("sourcing")
    client.force_login(rita)
    page = client.get(f"/requests/{req.pk}/lender-slip/").content.decode()
    assert f"Interlibrary loan request #{req.pk}" in page
    assert req.title in page and req.library.name in page
    assert not [s for s in (patron.name, patron.card_number, patron.email) if s in page]


def test_the_lender_slip_is_the_teams(client, request_in, alice):
    req = request_in("sourcing")
    client.force_login(alice)
    assert client.get(f"/requests/{req.pk}/lender-slip/").status_code == 403
