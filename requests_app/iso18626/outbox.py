"""Sending ISO 18626 messages to lenders: a row in the action's own transaction, posted by a
Celery task after commit, tried again with a backoff, never twice (docs/iso18626.md).

The workflow calls ``send_request`` and ``tell_lender`` inside its transaction, so a
refused or rolled-back action sends nothing. ``deliver`` claims the row before posting, as
the e-mail outbox does, so two workers never post the same message; a lender that cannot be
reached is tried again after ``backoff``, and after ``MAX_ATTEMPTS`` the message is given up
and the request flagged "exchange failing" for the team. A lender that answers ERROR has
refused the message: trying again would not help, so it is flagged at once.
"""

import base64
import logging
import urllib.error
import urllib.request
from datetime import timedelta
from typing import cast

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from lxml import etree

from lenders.models import Lender

from ..models import BorrowingRequest, ExchangeMessage, Notification, StatusEvent
from ..notifications import notify
from .messages import NAMESPACE, request_message, requesting_agency_message

logger = logging.getLogger(__name__)

#: The Celery task that posts one message, by name (the tasks module sits above this one).
SEND_TASK = "requests_app.tasks.send_exchange_message"
#: After this many failed tries a message is given up and its request flagged.
MAX_ATTEMPTS = 6
#: A claim older than this belongs to a worker that died mid-post.
CLAIM_TIMEOUT = timedelta(minutes=5)
#: The drain leaves rows younger than this to the task queued on commit.
DRAIN_GRACE = timedelta(minutes=1)
#: How long illdesk waits for a lender's answer.
TIMEOUT_SECONDS = 15


def send_request(req: BorrowingRequest, lender: Lender) -> ExchangeMessage | None:
    """Queue the ``request`` message that asks ``lender`` for the item, if it exchanges."""
    if not lender.exchanges_iso18626:
        return None
    return _queue(req, lender, "request", "Request", request_message(req, lender))


def tell_lender(req: BorrowingRequest, action: str, *, note: str = "") -> ExchangeMessage | None:
    """Queue a ``requestingAgencyMessage`` (``action``, with ``note``) to the request's
    lender, if it exchanges; nothing otherwise."""
    lender = req.lender
    if lender is None or not lender.exchanges_iso18626:
        return None
    body = requesting_agency_message(req, lender, action, note=note)
    return _queue(req, lender, "requestingAgencyMessage", action, body)


def _queue(
    req: BorrowingRequest, lender: Lender, kind: str, what: str, body: bytes
) -> ExchangeMessage:
    message = ExchangeMessage.objects.create(
        request=req,
        lender=lender,
        direction=ExchangeMessage.Direction.OUT,
        state=ExchangeMessage.State.PENDING,
        kind=kind,
        what=what,
        body=body.decode(),
    )
    transaction.on_commit(lambda: enqueue(message.pk))
    return message


def resend(failed: ExchangeMessage) -> ExchangeMessage:
    """The same message once more, as a new row to send (the failed one stays as it was)."""
    return _queue(
        cast(BorrowingRequest, failed.request),
        failed.lender,
        failed.kind,
        failed.what,
        failed.body.encode(),
    )


def enqueue(message_id: int) -> None:
    """Hand one message to Celery; on a broker fault leave it for the drain."""
    send = current_app.tasks[SEND_TASK]
    try:
        send.delay(message_id)
    except Exception:
        logger.warning("Broker unreachable; exchange message %s waits for the drain.", message_id)


def _ready(now) -> QuerySet[ExchangeMessage]:
    """Messages that may be posted now: unclaimed (or a dead worker's), past their backoff,
    and the oldest still to go for their request, so a lender never hears of a cancel
    before the request it cancels."""
    earlier = ExchangeMessage.objects.filter(
        request=OuterRef("request"),
        direction=ExchangeMessage.Direction.OUT,
        state=ExchangeMessage.State.PENDING,
        pk__lt=OuterRef("pk"),
    )
    return (
        ExchangeMessage.objects.filter(
            state=ExchangeMessage.State.PENDING, attempts__lt=MAX_ATTEMPTS
        )
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .filter(~Exists(earlier))
    )


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failure: 1, 2, 4 … minutes, at most 2 h."""
    return timedelta(minutes=min(2 ** (attempts - 1), 120))


class Refused(Exception):
    """The lender answered, and refused the message (``messageStatus`` ERROR)."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: following it would turn the POST into a GET and carry the
    lender's password to wherever it points."""

    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post(lender: Lender, body: bytes) -> bytes:
    """Post ``body`` to the lender's address as illdesk's agency, with the lender's password;
    its confirmation. Raises ``OSError`` when it cannot be reached or answers an HTTP error,
    ``Refused`` when it answers ERROR."""
    credentials = f"{settings.ILLDESK_AGENCY_ID_VALUE}:{lender.iso18626_password()}"
    request = urllib.request.Request(  # noqa: S310 - an address the admin set, http(s) only
        lender.iso18626_address,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/xml; charset=utf-8",
            "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
        },
    )
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
            answer = response.read(256 * 1024)
    except urllib.error.HTTPError as error:
        raise OSError(f"The lender answered HTTP {error.code}.") from error
    status, error_text = confirmation_status(answer)
    if status != "OK":
        raise Refused(error_text or "The lender's answer was not an ISO 18626 confirmation.")
    return answer


def confirmation_status(answer: bytes) -> tuple[str, str]:
    """The confirmation's ``messageStatus`` and, for ERROR, its error type and value."""
    try:
        root = etree.fromstring(answer, parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return "", ""
    namespaces = {"iso": NAMESPACE}
    status = root.findtext(".//iso:messageStatus", default="", namespaces=namespaces)
    error = ": ".join(
        part
        for part in (
            root.findtext(".//iso:errorType", default="", namespaces=namespaces),
            root.findtext(".//iso:errorValue", default="", namespaces=namespaces),
        )
        if part
    )
    return status.strip(), error


def _claim(message_id: int) -> bool:
    now = timezone.now()
    return bool(
        _ready(now).filter(pk=message_id).update(claimed_at=now, attempts=F("attempts") + 1)
    )


def deliver(message_id: int) -> str:
    """Post one message if it is ready and nobody else is posting it."""
    if not _claim(message_id):
        return "not ready, already sent or being sent"
    message = ExchangeMessage.objects.select_related("lender").get(pk=message_id)
    try:
        answer = post(message.lender, message.body.encode()).decode("utf-8", errors="replace")
    except Refused as refusal:
        _give_up(message, f"The lender refused it: {refusal}")
        _next(message)
        return "refused"
    except Exception as error:  # unreachable, a bad answer or address, the key changed
        if message.attempts >= MAX_ATTEMPTS:
            _give_up(message, f"Not delivered after {message.attempts} tries: {error}")
            _next(message)
            return "failed; given up"
        ExchangeMessage.objects.filter(pk=message_id).update(
            claimed_at=None,
            not_before=timezone.now() + backoff(message.attempts),
            error=str(error)[:500],
        )
        logger.warning("Exchange message %s not delivered (%s); will retry.", message_id, error)
        return "failed; will retry"
    ExchangeMessage.objects.filter(pk=message_id).update(
        state=ExchangeMessage.State.SENT,
        done_at=timezone.now(),
        answer=answer.replace("\x00", ""),
        error="",
    )
    logger.info("Exchange message %s (%s) delivered.", message_id, message.what)
    _next(message)
    return "sent"


def _next(message: ExchangeMessage) -> None:
    """Queue the request's next message, which waited for this one."""
    following = (
        ExchangeMessage.objects.filter(
            request_id=message.request_id,
            direction=ExchangeMessage.Direction.OUT,
            state=ExchangeMessage.State.PENDING,
            pk__gt=message.pk,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if following is not None and message.request_id is not None:
        transaction.on_commit(lambda: enqueue(following))


def _give_up(message: ExchangeMessage, why: str) -> None:
    with transaction.atomic():
        ExchangeMessage.objects.filter(pk=message.pk).update(
            state=ExchangeMessage.State.FAILED, done_at=timezone.now(), error=why[:500]
        )
        if message.request_id is not None:
            flag_failing(
                message.request_id,
                f"{message.what} to {message.lender.name}: {why}",
            )
    logger.error("Exchange message %s (%s) given up: %s", message.pk, message.what, why)


def flag_failing(request_id: int, why: str) -> None:
    """Flag the request "exchange failing" for the team, with why on its timeline, and tell
    the team by e-mail (once while the flag stands)."""
    with transaction.atomic():
        req = BorrowingRequest.objects.select_for_update().get(pk=request_id)
        now = timezone.now()
        already = req.exchange_failed_at is not None
        if not already:
            req.exchange_failed_at = now
            req.save(update_fields=["exchange_failed_at", "updated_at"])
        event = StatusEvent.objects.create(
            request=req,
            action="exchange_failed",
            from_status=req.status,
            to_status=req.status,
            at=now,
            note=why[:2000],
        )
        if not already:
            notify(req, "exchange_failed", Notification.Audience.TEAM, event=event)


def drain(limit: int = 500) -> int:
    """Queue the messages the broker never got, or a dead worker left claimed; give up
    those a worker died on at their last try."""
    now = timezone.now()
    stranded = ExchangeMessage.objects.filter(
        state=ExchangeMessage.State.PENDING,
        attempts__gte=MAX_ATTEMPTS,
        claimed_at__lt=now - CLAIM_TIMEOUT,
    ).select_related("lender")
    for message in stranded[:limit]:
        _give_up(message, f"Not delivered after {message.attempts} tries: the sender stopped.")
    ids = list(
        _ready(now)
        .filter(created_at__lt=now - DRAIN_GRACE)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for message_id in ids:
        enqueue(message_id)
    return len(ids)
