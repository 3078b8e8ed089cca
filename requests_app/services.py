"""Writes on a request that are not status changes: charges and messages.

Like the workflow, each locks the request's row and checks the actor. A charge records
itself in the request's timeline (a ``StatusEvent`` whose from and to status are the
same); a message is its own dated record, shown beside the timeline.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum

from members.models import User

from .models import (
    CENT,
    ZERO,
    BorrowingRequest,
    Charge,
    Message,
    Notification,
    StatusEvent,
    UnrequestedItemReport,
)
from .notifications import notify
from .workflow import LIBRARY, TEAM, NotPermitted, lock_request


def _note_in_timeline(req: BorrowingRequest, action: str, actor: User, note: str) -> None:
    StatusEvent.objects.create(
        request=req,
        action=action,
        from_status=req.status,
        to_status=req.status,
        actor=actor,
        note=note,
    )


def add_charge(
    request_id: int,
    *,
    actor: User,
    kind: str,
    amount: Decimal,
    currency: str = "",
    payer: str = Charge.Payer.SERVICE,
    invoiced: bool = False,
    paid: bool = False,
    reference: str = "",
) -> Charge:
    """Record a fee or cost and keep the request's running total against its max cost.

    The total counts the cost kinds (not reimbursements). Amounts are in the service's
    currency, as IFM and invoices bill them, so no cost escapes the max-cost check.
    """
    currency = (currency or settings.ILLDESK_CURRENCY).upper()
    if currency != settings.ILLDESK_CURRENCY:
        raise ValidationError(
            {
                "currency": [
                    f"Record the amount in {settings.ILLDESK_CURRENCY}, as invoiced; "
                    "put the original amount and currency in the reference."
                ]
            }
        )
    charge = Charge(
        kind=kind,
        amount=amount,
        currency=currency,
        payer=payer,
        invoiced=invoiced,
        paid=paid,
        reference=reference,
        created_by=actor,
    )
    charge.full_clean(exclude=["request", "created_by"])
    with transaction.atomic():
        req = lock_request(request_id, "add_charge", actor, {TEAM})
        charge.request = req
        charge.save()
        total = req.charges.filter(kind__in=Charge.COST_KINDS).aggregate(total=Sum("amount"))[
            "total"
        ]
        # SQLite sums decimals as floats; round back to cents.
        req.charges_total = Decimal(total or ZERO).quantize(CENT)
        req.save(update_fields=["charges_total", "updated_at"])
        _note_in_timeline(
            req,
            "add_charge",
            actor,
            f"{charge.get_kind_display()}: {charge.amount} {charge.currency}, "
            f"paid by {charge.get_payer_display().lower()}. "
            f"Total {req.charges_total} of max cost {req.max_cost}.",
        )
    return charge


def post_message(request_id: int, *, actor: User, body: str) -> Message:
    """A message between the library and the team; the other side is told."""
    body = body.strip()
    if not body:
        raise ValidationError({"body": ["Write a message."]})
    with transaction.atomic():
        req = lock_request(request_id, "post_message", actor, {LIBRARY, TEAM})
        message = Message.objects.create(request=req, author=actor, body=body)
        audience = Notification.Audience.LIBRARY if actor.is_team else Notification.Audience.TEAM
        notify(req, "message", audience)
    return message


def report_unrequested_item(
    *, actor: User, title: str, slip_number: str = "", sent_by: str = "", note: str = ""
) -> UnrequestedItemReport:
    """A library received an item it did not request: record it and tell the team."""
    if not actor.is_active or not actor.is_library_staff:
        raise NotPermitted(
            "report_unrequested_item", "", "Only member library staff report items they received."
        )
    report = UnrequestedItemReport(
        library_id=actor.library_id,
        reported_by=actor,
        title=title.strip(),
        slip_number=slip_number.strip(),
        sent_by=sent_by.strip(),
        note=note.strip(),
    )
    report.full_clean()
    with transaction.atomic():
        report.save()
        notify(report, "unrequested_item", Notification.Audience.TEAM)
    return report
