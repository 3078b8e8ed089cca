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

from .models import CENT, ZERO, BorrowingRequest, Charge, Message, Notification, StatusEvent
from .notifications import notify
from .workflow import LIBRARY, TEAM, NotPermitted, actor_side


def _lock_for(request_id: int, actor: User, action: str, sides: set[str]) -> BorrowingRequest:
    req = BorrowingRequest.objects.select_for_update().get(pk=request_id)
    if actor_side(actor, req.library_id) not in sides:
        raise NotPermitted(action, req.status, "You may not do this on this request.")
    return req


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

    The total counts the cost kinds (not reimbursements) in the service's currency.
    """
    currency = (currency or settings.ILLDESK_CURRENCY).upper()
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
        req = _lock_for(request_id, actor, "add_charge", {TEAM})
        charge.request = req
        charge.save()
        total = req.charges.filter(
            kind__in=Charge.COST_KINDS, currency=settings.ILLDESK_CURRENCY
        ).aggregate(total=Sum("amount"))["total"]
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
        req = _lock_for(request_id, actor, "post_message", {LIBRARY, TEAM})
        message = Message.objects.create(request=req, author=actor, body=body)
        audience = Notification.Audience.LIBRARY if actor.is_team else Notification.Audience.TEAM
        notify(req, "message", audience)
    return message
