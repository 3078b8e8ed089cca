"""What a lender's ISO 18626 message does: the checks that it is the lender's to send, and
the workflow step each status stands for (docs/iso18626.md, message by message).

Every message is recorded (``ExchangeMessage``) with the confirmation it was answered with.
A lender touches only the requests sent to it now, as the agency it signed in as; the same
message again changes nothing; a step the workflow refuses now is refused with its words,
recorded, and flags the request "exchange failing" for the team. The steps run as the
service's own account (``members.services.service_account``), through the same functions
the pages and the API call, so no door accepts what another refuses.
"""

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from lxml import etree

from core.errors import WorkflowError
from lenders.models import Lender
from members.models import User
from members.services import service_account

from . import rules, services, workflow
from .iso18626 import inbound
from .iso18626.inbound import UNRECOGNISED_VALUE, Message, Refusal
from .iso18626.outbox import flag_failing
from .models import (
    BorrowingRequest,
    ChargeKind,
    ExchangeMessage,
    RenewalRequest,
    ShippingMethod,
    Status,
)

logger = logging.getLogger(__name__)

UNSUPPORTED_ACTION = "UnsupportedActionType"
#: The statuses that only tell how the lender is getting on: noted on the timeline.
NOTED = {
    "RequestReceived": "has the request",
    "ExpectToSupply": "expects to supply it",
    "WillSupply": "will supply it",
}


class Unsupported(Exception):
    """A message illdesk reads but does not act on: answered with the error type given."""

    def __init__(self, error_type: str, value: str):
        super().__init__(value)
        self.refusal = Refusal(error_type, value, "supplyingAgencyMessage")


def receive(lender: Lender, body: bytes) -> bytes:
    """Read, check and act on one message from ``lender`` (signed in as its agency); the
    confirmation to answer it with. Never raises for anything the lender sends."""
    received = timezone.now()
    message = inbound.read(body)
    if isinstance(message, Refusal):
        return _refused(lender, None, message, body, kind=message.kind, received=received)
    if message.kind != "supplyingAgencyMessage":
        refusal = Refusal(
            UNSUPPORTED_ACTION,
            f"illdesk borrows and does not lend: it takes no {message.kind}.",
            message.kind,
        )
        return _refused(
            lender, None, refusal, body, message=message, kind=message.kind, received=received
        )
    status = message.text("statusInfo/status")
    wrong_agency = _header_refusal(lender, message)
    if wrong_agency is not None:
        return _refused(
            lender, None, wrong_agency, body, message=message, what=status, received=received
        )
    digest = fingerprint(message)
    answer = inbound.confirmation(message, received=received)
    if _is_repeat(lender, digest):
        logger.info("A repeated ISO 18626 message from lender %s: nothing changed.", lender.pk)
        return answer
    req = _request_of(lender, message)
    if req is not None and req.lender_id != lender.pk and not _confirms_its_end(message):
        req = None  # it was with this lender once; only its own ending may be confirmed
    if req is None:
        refusal = Refusal(
            UNRECOGNISED_VALUE,
            f"No request {message.text('header/requestingAgencyRequestId')!r} is with your agency.",
        )
        return _refused(
            lender, None, refusal, body, message=message, what=status, received=received
        )
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = ExchangeMessage.objects.create(
                        request=req,
                        lender=lender,
                        direction=ExchangeMessage.Direction.IN,
                        state=ExchangeMessage.State.ACCEPTED,
                        kind=message.kind,
                        what=status,
                        body=_stored(body, message),
                        digest=digest,
                        answer=answer.decode(),
                        created_at=received,
                    )
            except IntegrityError:
                # The same message, at the same moment on another connection: it acted.
                return answer
            record.summary = act(req, lender, message)[:500]
            record.save(update_fields=["summary"])
    except Unsupported as unsupported:
        return _refused(
            lender, req, unsupported.refusal, body, message=message, what=status, received=received
        )
    except (WorkflowError, ValidationError) as error:
        refusal = Refusal(UNRECOGNISED_VALUE, _words(error))
        return _refused(
            lender, req, refusal, body, message=message, what=status, received=received, flag=True
        )
    return answer


def fingerprint(message: Message) -> str:
    """The message as sent (canonical XML), hashed: a lender that sends it again (it never
    had the confirmation) sends the same fingerprint. A message restamped and sent again
    is another message; what it says is then already so, and changes nothing (``act``)."""
    return hashlib.sha256(etree.tostring(message.root, method="c14n")).hexdigest()


def _stored(body: bytes, message: Message | None) -> str:
    """The message as text to keep: as parsed when it was (whatever its encoding), else
    the bytes as UTF-8 as far as they go; never a NUL, which no text column holds."""
    if message is not None:
        text = etree.tostring(message.root, encoding="unicode")
    else:
        text = body.decode("utf-8", errors="replace")
    return text.replace("\x00", "")


def _is_repeat(lender: Lender, digest: str) -> bool:
    return ExchangeMessage.objects.filter(
        lender=lender,
        digest=digest,
        direction=ExchangeMessage.Direction.IN,
        state=ExchangeMessage.State.ACCEPTED,
    ).exists()


def _header_refusal(lender: Lender, message: Message) -> Refusal | None:
    """Refuse a message that names another agency than the one that signed in, or is not
    addressed to illdesk."""
    supplier = (
        message.text("header/supplyingAgencyId/agencyIdType"),
        message.text("header/supplyingAgencyId/agencyIdValue"),
    )
    if supplier != (lender.agency_id_type, lender.agency_id_value):
        return Refusal(
            UNRECOGNISED_VALUE,
            f"supplyingAgencyId {':'.join(supplier)} is not the agency you signed in as.",
        )
    requester = (
        message.text("header/requestingAgencyId/agencyIdType"),
        message.text("header/requestingAgencyId/agencyIdValue"),
    )
    if requester != (settings.ILLDESK_AGENCY_ID_TYPE, settings.ILLDESK_AGENCY_ID_VALUE):
        return Refusal(
            UNRECOGNISED_VALUE, f"requestingAgencyId {':'.join(requester)} is not illdesk."
        )
    return None


REQUEST_ID = re.compile(r"illdesk-([0-9]{1,12})")


def _request_of(lender: Lender, message: Message) -> BorrowingRequest | None:
    """The request the message names (``illdesk-<number>``), if it is with this lender or
    was sent to it once (which may only confirm how it ended there)."""
    named = REQUEST_ID.fullmatch(message.text("header/requestingAgencyRequestId"))
    if named is None:
        return None
    return (
        BorrowingRequest.objects.filter(pk=int(named.group(1)))
        .filter(Q(lender=lender) | Q(attempts__lender=lender))
        .select_related("lender")
        .distinct()
        .first()
    )


def _confirms_its_end(message: Message) -> bool:
    """A message that only says the lender will not (or did not) supply: what a lender the
    request has left may still say, to no effect."""
    return message.text("statusInfo/status") in ("Unfilled", "Cancelled") or (
        message.text("messageInfo/reasonForMessage") == "CancelResponse"
    )


def _refused(
    lender: Lender,
    req: BorrowingRequest | None,
    refusal: Refusal,
    body: bytes,
    *,
    received: dt.datetime,
    message: Message | None = None,
    kind: str = "supplyingAgencyMessage",
    what: str = "",
    flag: bool = False,
) -> bytes:
    """Record a refused message and answer it with its error; with ``flag``, the request is
    flagged "exchange failing" (the lender and illdesk now disagree on where it stands)."""
    answer = inbound.confirmation(message or refusal, received=received, error=refusal)
    ExchangeMessage.objects.create(
        request=req,
        lender=lender,
        direction=ExchangeMessage.Direction.IN,
        state=ExchangeMessage.State.REFUSED,
        kind=kind[:40],
        what=what[:40],
        body=_stored(body, message),
        answer=answer.decode(),
        error=f"{refusal.error_type}: {refusal.error_value}"[:500],
        created_at=received,
    )
    if flag and req is not None:
        flag_failing(req.pk, f"{what} from {lender.name} refused: {refusal.error_value}")
    logger.info("Refused an ISO 18626 message from lender %s: %s", lender.pk, refusal.error_type)
    return answer


def _words(error: WorkflowError | ValidationError) -> str:
    if isinstance(error, WorkflowError):
        return error.message
    if hasattr(error, "error_dict"):
        return " ".join(
            f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items()
        )
    return " ".join(error.messages)


# --- What each message does -------------------------------------------------------------------


def act(req: BorrowingRequest, lender: Lender, message: Message) -> str:
    """Take the workflow step the message stands for; what it did, in words. What is
    already so (a status sent again, restamped; one the loan is past) changes nothing."""
    actor = service_account()
    reason = message.text("messageInfo/reasonForMessage")
    status = message.text("statusInfo/status")
    note = message.text("messageInfo/note")
    already = _already_so(req, lender, reason, status)
    if already:
        return already
    if reason == "Notification":
        body = f"From {lender.name}: {note}" if note else ""
        if not body:
            raise Unsupported(UNRECOGNISED_VALUE, "A Notification needs a note.")
        services.post_message(req.pk, actor=actor, body=_clip(body, rules.MESSAGE))
        done = "A message from the lender."
    elif reason == "RenewResponse":
        done = _renew_response(req, message, actor, note)
    elif reason == "CancelResponse":
        done = _cancel_response(req, lender, message, actor, note)
    else:
        step = STATUS_STEPS.get(status)
        if step is None:
            raise Unsupported(UNRECOGNISED_VALUE, f"illdesk does not act on the status {status}.")
        done = step(req, lender, message, actor, note)
    if status == "Loaned" and reason != "RenewResponse":
        done = joined(done, _fee(req, message, actor))
    return done


def _already_so(req: BorrowingRequest, lender: Lender, reason: str, status: str) -> str:
    """Words for a message that tells what illdesk knows already, or "" for one to act on."""
    if reason == "Notification":
        return ""
    if status in ("Unfilled", "Cancelled") and req.lender_id != lender.pk:
        return "The request has left this lender already: nothing changed."
    if reason == "RenewResponse":
        return "" if req.status == Status.RENEWAL_REQUESTED else _renewal_answered(req)
    shipped = req.shipped_on is not None and req.lender_id == lender.pk
    if status == "Loaned" and shipped:
        return "Shipped already: nothing changed."
    if status in NOTED and shipped:
        return "The loan is further along already: nothing changed."
    if status == "LoanCompleted" and req.status == Status.COMPLETED:
        return "Complete already: nothing changed."
    return ""


def _renewal_answered(req: BorrowingRequest) -> str:
    """A renewal answer when none is pending: the last one's, said again, changes nothing;
    anything else is for the workflow to refuse."""
    last = req.renewals.exclude(answer=RenewalRequest.Answer.PENDING).order_by("-pk").first()
    if last is not None and last.answer in (
        RenewalRequest.Answer.APPROVED,
        RenewalRequest.Answer.DENIED,
    ):
        return "The renewal is answered already: nothing changed."
    return ""


def _noted(req: BorrowingRequest, lender: Lender, message: Message, actor: User, note: str) -> str:
    status = message.text("statusInfo/status")
    if req.status != Status.SENT_TO_LENDER:
        raise WorkflowError(
            "lender_status", req.status, f"{status} came when the request was {req.status}."
        )
    words = f"{lender.name} {NOTED[status]}" + _expected(message) + "."
    services.note_from_lender(req.pk, actor=actor, note=_clip(joined(words, note)))
    return words


def _expected(message: Message) -> str:
    expected = _day(message, "statusInfo/expectedDeliveryDate")
    return f", expected {expected:%Y-%m-%d}" if expected else ""


def _loaned(req: BorrowingRequest, lender: Lender, message: Message, actor: User, note: str) -> str:
    shipped_on = _day(message, "deliveryInfo/dateSent") or _day(message, "statusInfo/lastChange")
    due_date = _day(message, "statusInfo/dueDate")
    method = _method(message.text("deliveryInfo/sentVia"))
    tracking = _tracking(note)
    workflow.ship(
        req.pk,
        actor=actor,
        shipped_on=shipped_on,
        due_date=due_date,
        method=method,
        tracking_number=tracking,
    )
    item = message.text("deliveryInfo/itemId")
    return f"Shipped {shipped_on}, due {due_date}" + (f", item {item}" if item else "") + "."


def _unfilled(
    req: BorrowingRequest, lender: Lender, message: Message, actor: User, note: str
) -> str:
    if req.status == Status.CANCELLED:  # the lender's answer to illdesk's Cancel
        return _cancelled(req, lender, message, actor, note)
    reason = joined(message.text("messageInfo/reasonUnfilled"), note) or "No reason given."
    workflow.lender_unfilled(
        req.pk, actor=actor, reason=_clip(f"{reason} (ISO 18626)", rules.REASON)
    )
    return f"Cannot supply: {reason}"


def _cancelled(
    req: BorrowingRequest, lender: Lender, message: Message, actor: User, note: str
) -> str:
    if req.status == Status.CANCELLED:
        words = f"{lender.name} confirms the cancellation."
        if req.events.filter(action="lender_status", note__startswith=words).exists():
            return "Confirmed already: nothing changed."
        services.note_from_lender(req.pk, actor=actor, note=joined(words, _clip(note)))
        return "The lender confirms the cancellation."
    if req.status == Status.SENT_TO_LENDER:
        reason = joined("The lender cancelled it.", note)
        workflow.lender_unfilled(req.pk, actor=actor, reason=reason)
        return reason
    raise WorkflowError("cancel", req.status, f"Cancelled came when the request was {req.status}.")


def _lender_says(word: str) -> Callable[..., str]:
    def step(req: BorrowingRequest, lender: Lender, message: Message, actor: User, note: str):
        due_date = _day(message, "statusInfo/dueDate")
        workflow.lender_says(req.pk, actor=actor, word=word, due_date=due_date, note=_clip(note))
        return f"The lender {workflow.LENDER_WORDS[word]}" + (
            f", due {due_date}." if due_date else "."
        )

    return step


def _completed(
    req: BorrowingRequest, lender: Lender, message: Message, actor: User, note: str
) -> str:
    workflow.complete(req.pk, actor=actor, note=_clip(joined("The lender has it back.", note)))
    return "The lender has it back: complete."


#: The step each status of a ``StatusChange`` (or a request's or status request's
#: response) stands for.
STATUS_STEPS: dict[str, Callable[..., str]] = {
    **dict.fromkeys(NOTED, _noted),
    "Loaned": _loaned,
    "Unfilled": _unfilled,
    "Cancelled": _cancelled,
    "Overdue": _lender_says("lender_overdue"),
    "Recalled": _lender_says("recalled"),
    "LoanCompleted": _completed,
}


def _renew_response(req: BorrowingRequest, message: Message, actor: User, note: str) -> str:
    answer = message.text("messageInfo/answerYesNo")
    if answer not in ("Y", "N"):
        raise Unsupported(UNRECOGNISED_VALUE, "A RenewResponse needs answerYesNo, Y or N.")
    due_date = _day(message, "statusInfo/dueDate") if answer == "Y" else None
    workflow.answer_renewal(
        req.pk, actor=actor, approved=answer == "Y", due_date=due_date, note=_clip(note)
    )
    return f"Renewal approved, due {due_date}." if answer == "Y" else "Renewal denied."


def _cancel_response(
    req: BorrowingRequest, lender: Lender, message: Message, actor: User, note: str
) -> str:
    if message.text("messageInfo/answerYesNo") == "N":
        words = _clip(joined(f"{lender.name} could not cancel it.", note))
        services.note_from_lender(req.pk, actor=actor, note=words)
        transaction.on_commit(lambda: flag_failing(req.pk, words))
        return words
    return _cancelled(req, lender, message, actor, note)


def _fee(req: BorrowingRequest, message: Message, actor: User) -> str:
    """What the lender charges for the loan (``deliveryCosts`` of its ``Loaned``), as a
    lending fee; the request's max cost then flags it if it is over. Costs offered before
    (``offeredCosts``) are the team's to agree: they are in the message, not charged."""
    value = message.text("deliveryInfo/deliveryCosts/monetaryValue")
    if not value:
        return ""
    try:
        amount = Decimal(value)
    except InvalidOperation as error:
        raise Unsupported(UNRECOGNISED_VALUE, f"deliveryCosts: {value!r} is no amount.") from error
    if amount <= 0:
        return ""
    currency = message.text("deliveryInfo/deliveryCosts/currencyCode")
    services.add_charge(
        req.pk,
        actor=actor,
        kind=ChargeKind.LENDING_FEE,
        amount=amount,
        currency=currency,
        reference="Reported by the lender (ISO 18626).",
    )
    return f"Charges {amount} {currency}."


def _clip(text: str, limit: int = rules.NOTE) -> str:
    """A lender's words cut to what illdesk keeps of them (an ellipsis where cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- Reading values ---------------------------------------------------------------------------


def _day(message: Message, path: str) -> dt.date | None:
    """The service's day of the ``xs:dateTime`` at ``path`` (None when absent)."""
    text = message.text(path)
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as error:
        raise Unsupported(UNRECOGNISED_VALUE, f"{path}: {text!r} is no date and time.") from error
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return timezone.localtime(moment).date()


def _method(sent_via: str) -> str:
    """The shipping method from ``sentVia``: the Delivery courier, or the mail."""
    words = sent_via.lower()
    return (
        ShippingMethod.DELIVERY if "deliver" in words or "courier" in words else ShippingMethod.MAIL
    )


TRACKING = re.compile(r"tracking\s*(?:number|no\.?)?\s*:\s*([^\s,;]+)", re.IGNORECASE)


def _tracking(note: str) -> str:
    """A tracking number, where the lender's note says ``tracking: <number>`` (ISO 18626 1.2
    has no element of its own for it)."""
    found = TRACKING.search(note)
    return found.group(1).rstrip(".")[:100] if found else ""


def joined(*parts: str) -> str:
    return " ".join(part.strip() for part in parts if part and part.strip())
