"""The ISO 18626 exchange at full size: ``python -m benchmarks.iso18626``.

On the benchmark database (``DATABASE_URL``; ``make bench`` fills it), in-process through
Django's test client, as ``benchmarks.exceptions`` does. One generated lender is made an
exchange partner whose endpoint is a small HTTP server on this machine (answering OK at
once), and a request being sourced is sent to it. Then, each call in a savepoint rolled
back after it:

- a lender's message at ``POST /iso18626/``: ``Loaned`` (the shipment and its fee),
  ``WillSupply`` (a note), the same ``Loaned`` again (a repeat: nothing done), and one
  naming a request that is not with the lender (refused);
- illdesk's side: sending the request to the partner (the ``request`` message built and
  queued with the move), the message built and checked against the schema alone, and the
  outbox posting it over HTTP (claim, post, confirmation read, row marked sent).

Everything it adds is rolled back. Medians of ``--runs`` calls (after one warm-up).
"""

import argparse
import datetime as dt
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchmarks.api_auth import setup_django
from benchmarks.figures import measure_and_write, rolled_back_calls, table

PASSWORD = "a benchmark's shared secret"  # noqa: S105 - a scratch database's partner
#: What the partner answers: an OK confirmation.
CONFIRMATION = (
    b'<ISO18626Message xmlns="http://illtransactions.org/2013/iso18626"><requestConfirmation>'
    b"<confirmationHeader><timestamp>2026-12-05T10:00:00Z</timestamp><timestampReceived>"
    b"2026-12-05T10:00:00Z</timestampReceived><messageStatus>OK</messageStatus>"
    b"</confirmationHeader></requestConfirmation></ISO18626Message>"
)


def timed(call, runs: int, *, check=lambda result: None) -> dict:
    return rolled_back_calls(call, runs, check)


def answered(status: str):
    """A check that the endpoint answered 200 with ``messageStatus`` ``status``."""

    def check(response) -> None:
        text = response.content.decode()
        if response.status_code != 200 or f"<messageStatus>{status}<" not in text:
            raise SystemExit(f"answered {response.status_code}: {text[:500]}")

    return check


class Lender(BaseHTTPRequestHandler):
    """A partner's endpoint: reads the message, answers an OK confirmation at once."""

    answer = b""

    def do_POST(self):  # noqa: N802 - the http.server name
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.answer)))
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, *args):
        pass


def lender_message(req, lender, status: str, *, number: str | None = None) -> bytes:
    """A ``supplyingAgencyMessage`` from ``lender`` about ``req`` (or request ``number``):
    shipped today by Delivery, due in four weeks, with a $10 fee."""
    from django.conf import settings
    from django.utils import timezone

    from requests_app.iso18626.messages import supplying_agency_message

    now = timezone.now()
    loaned = status == "Loaned"
    return supplying_agency_message(
        number or f"illdesk-{req.pk}",
        status,
        supplier=("ISIL", lender.agency_id_value),
        requester=(settings.ILLDESK_AGENCY_ID_TYPE, settings.ILLDESK_AGENCY_ID_VALUE),
        note="Tracking: 1Z999AA10123456784",
        due=timezone.localdate() + dt.timedelta(days=28),
        sent=now if loaned else None,
        sent_via="Delivery",
        costs=("USD", "10.00"),
        now=now,
    )


def measure(options) -> dict:
    import base64

    from django.db import transaction
    from django.test import Client

    from benchmarks.exceptions import pick
    from lenders.models import Lender as LenderRow
    from members.models import User
    from requests_app import workflow
    from requests_app.iso18626 import messages, outbox
    from requests_app.models import BorrowingRequest, ExchangeMessage

    server = ThreadingHTTPServer(("127.0.0.1", 0), Lender)
    Lender.answer = CONFIRMATION
    threading.Thread(target=server.serve_forever, daemon=True).start()
    results: dict[str, dict] = {}
    try:
        with transaction.atomic():
            team = User.objects.get(username="bench-team")
            lender = LenderRow.objects.filter(is_active=True).order_by("pk").first()
            lender.iso18626_address = f"http://127.0.0.1:{server.server_address[1]}/iso"
            lender.agency_id_type, lender.agency_id_value = "ISIL", "US-XX-BENCH"
            lender.set_iso18626_password(PASSWORD)
            lender.save()
            req = pick()["sourcing"]
            results["send to a partner (the request message built and queued)"] = timed(
                lambda: workflow.send_to_lender(req.pk, actor=team, lender=lender), options.runs
            )
            workflow.send_to_lender(req.pk, actor=team, lender=lender)
            req = BorrowingRequest.objects.select_related("library").get(pk=req.pk)
            results["the request message built and checked against the schema"] = timed(
                lambda: messages.schema_errors(messages.request_message(req, lender)),
                options.runs,
                check=lambda errors: errors and SystemExit(errors),
            )
            queued = ExchangeMessage.objects.get(request=req, kind="request")
            results["the outbox posts it over HTTP (claimed, posted, marked sent)"] = timed(
                lambda: outbox.deliver(queued.pk),
                options.runs,
                check=lambda result: result != "sent" and _stop(result),
            )
            client = Client(
                HTTP_AUTHORIZATION="Basic "
                + base64.b64encode(f"US-XX-BENCH:{PASSWORD}".encode()).decode()
            )

            def post(body: bytes):
                return lambda: client.post("/iso18626/", body, content_type="application/xml")

            loaned = lender_message(req, lender, "Loaned")
            results["Loaned at POST /iso18626/ (shipped, its fee)"] = timed(
                post(loaned), options.runs, check=answered("OK")
            )
            results["WillSupply at POST /iso18626/ (noted)"] = timed(
                post(lender_message(req, lender, "WillSupply")), options.runs, check=answered("OK")
            )
            post(loaned)()  # taken once, for good (until the rollback below)
            results["the same Loaned again (a repeat: nothing done)"] = timed(
                post(loaned), options.runs, check=answered("OK")
            )
            other = lender_message(req, lender, "Loaned", number="illdesk-1")
            results["a request not with the lender (refused)"] = timed(
                post(other), options.runs, check=answered("ERROR")
            )
            transaction.set_rollback(True)
    finally:
        server.shutdown()
        server.server_close()
    return {"results": results}


def _stop(result: str):
    raise SystemExit(f"the outbox answered {result!r}")


def markdown_of(figures: dict) -> str:
    """The figures ``main`` wrote, as the section of docs/performance.md."""
    return "\n".join(
        [
            "### The ISO 18626 exchange",
            "",
            f"`python -m benchmarks.iso18626 --runs {figures['runs']}`, {figures['when']}: "
            f"{figures['requests']:,} requests; {figures['cpus']} CPUs. A generated lender "
            "made a partner, its endpoint a server on this machine that answers at once; a "
            "request being sourced sent to it. In-process (Django's test client), each call "
            f"in a savepoint rolled back after it. Medians of {figures['runs']} calls, "
            "milliseconds.",
            "",
            *table(figures["results"]),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    options = parser.parse_args(argv)
    setup_django()
    measure_and_write(options.runs, options.out, lambda: measure(options), markdown_of)


if __name__ == "__main__":
    main()
