"""A real exchange: illdesk under gunicorn, its messages posted by a real Celery worker
through the Redis broker, and the demo lender (``manage.py iso18626_peer``) answering over
HTTP by scenario. A loan goes from sent to completed with nothing typed for the lender."""

import datetime as dt
import signal
import sys

import pytest
from django.conf import settings

from illdesk.celery import app as celery_app
from members.models import User
from requests_app import workflow
from requests_app.models import BorrowingRequest, ExchangeMessage, Status, StatusEvent
from tests.iso18626 import PASSWORD, partner
from tests.services import (
    Service,
    app_env,
    app_server,
    celery_worker,
    free_port,
    running,
    wait_for,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def exchange(tmp_path):
    """illdesk (gunicorn), a worker and the demo lender; the lender's base address."""
    celery_app.control.purge()  # tasks left by earlier runs name rows of other databases
    env = app_env(redis_url=settings.REDIS_URL, mailbox=tmp_path / "mail")
    app = app_server(env, tmp_path / "app.log")
    port = free_port()
    log = tmp_path / "peer.log"
    command = [sys.executable, "manage.py", "iso18626_peer", "--port", str(port)]
    command += ["--illdesk", f"{app.base}/iso18626/", "--password", PASSWORD, "--delay", "0.2"]
    peer = Service(
        "the demo lender", command, env, log,
        ready=lambda: "ready at" in log.read_text(), how_to_stop=signal.SIGTERM,
    )  # fmt: skip
    worker = celery_worker(env, tmp_path / "worker.log")
    with running(app, worker, peer):
        yield f"http://127.0.0.1:{port}", [app.log, worker.log, log]


def status_of(req) -> str:
    return BorrowingRequest.objects.get(pk=req.pk).status


def logs(paths) -> str:
    return "\n".join(path.read_text()[-3000:] for path in paths if path.exists())


def test_a_loan_travels_from_request_to_completed_with_nothing_retyped(
    exchange, request_in, rita, alice
):
    base, log_paths = exchange
    lender = partner(name="Peer Lending Library", agency="US-MA-PEER", address=f"{base}/loan/")
    req = request_in("sourcing")

    workflow.send_to_lender(req.pk, actor=rita, lender=lender)
    wait_for(lambda: status_of(req) == Status.SHIPPED, what=logs(log_paths))

    req.refresh_from_db()
    # The demo lender lends for 28 days from its own (UTC) day, which is not the service's
    # between midnight UTC and midnight in the service's time zone.
    assert req.due_date == dt.datetime.now(dt.UTC).date() + dt.timedelta(days=28)
    assert req.shipping_tracking.startswith("DEMO") and req.charges_total == 10
    workflow.mark_received(req.pk, actor=alice)
    asked = req.due_date + dt.timedelta(days=21)
    workflow.request_renewal(req.pk, actor=alice, due_date=asked)
    wait_for(lambda: status_of(req) == Status.RECEIVED, what=logs(log_paths))
    req.refresh_from_db()
    assert req.due_date == asked

    workflow.mark_returned(req.pk, actor=alice, method="delivery")
    wait_for(lambda: status_of(req) == Status.COMPLETED, what=logs(log_paths))

    sent = ExchangeMessage.objects.filter(request=req, direction="out").order_by("id")
    assert [(m.what, m.state) for m in sent] == [
        ("Request", "sent"), ("Received", "sent"), ("Renew", "sent"), ("ShippedReturn", "sent"),
    ]  # fmt: skip
    received = ExchangeMessage.objects.filter(request=req, direction="in").order_by("id")
    assert [(m.what, m.state) for m in received] == [
        ("ExpectToSupply", "accepted"), ("Loaned", "accepted"),
        ("Loaned", "accepted"), ("LoanCompleted", "accepted"),
    ]  # fmt: skip
    by_the_service = StatusEvent.objects.filter(
        request=req, actor__username=User.SERVICE_USERNAME
    ).values_list("action", flat=True)
    assert set(by_the_service) >= {"ship", "answer_renewal", "complete", "lender_status"}


def test_an_unfilled_answer_sends_the_request_back_to_the_team(exchange, request_in, rita):
    base, log_paths = exchange
    lender = partner(name="Peer Reserve Library", agency="US-MA-RSV", address=f"{base}/unfilled/")
    req = request_in("sourcing")

    workflow.send_to_lender(req.pk, actor=rita, lender=lender)
    wait_for(lambda: status_of(req) == Status.SOURCING, what=logs(log_paths))

    attempt = req.attempts.get()
    assert attempt.outcome == "unfilled" and "NotAvailableForILL" in attempt.reason
