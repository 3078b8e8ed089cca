"""Nothing is lost: events are append-only, charges are never deleted, every charge and
message is on the request's timeline."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from core.errors import NotPermitted
from requests_app import services
from requests_app.flags import OVER_MAX_COST
from requests_app.models import Charge, Message, Notification, StatusEvent


def test_status_events_cannot_be_edited_or_deleted(request_in):
    event = request_in("submitted").events.get()
    event.note = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        StatusEvent.objects.all().delete()
    with pytest.raises(PermissionError):
        StatusEvent.objects.filter(pk=event.pk).update(note="rewritten")
    event.refresh_from_db()
    assert event.note == ""


def test_charges_are_never_deleted(request_in, rita):
    charge = services.add_charge(
        request_in("shipped").pk, actor=rita, kind="lending_fee", amount=Decimal("5.00")
    )
    with pytest.raises(PermissionError):
        charge.delete()
    assert Charge.objects.filter(pk=charge.pk).exists()


def test_charges_keep_a_running_total_against_max_cost(request_in, rita):
    req = request_in("shipped")
    assert req.max_cost == Decimal("25.00")
    services.add_charge(req.pk, actor=rita, kind="lending_fee", amount=Decimal("15.00"))
    services.add_charge(req.pk, actor=rita, kind="shipping", amount=Decimal("9.99"))
    services.add_charge(
        req.pk, actor=rita, kind="reimbursement", amount=Decimal("100.00"), payer="library"
    )
    req.refresh_from_db()
    assert req.charges_total == Decimal("24.99")
    assert not OVER_MAX_COST.carried_by(req)
    services.add_charge(req.pk, actor=rita, kind="ifm", amount=Decimal("0.02"))
    req.refresh_from_db()
    assert req.charges_total == Decimal("25.01")
    assert OVER_MAX_COST.carried_by(req)
    charge_events = req.events.filter(action="add_charge")
    assert charge_events.count() == 4
    assert "Total 25.01 of max cost 25.00" in charge_events.last().note


def test_charges_are_recorded_in_the_services_currency(request_in, rita):
    req = request_in("shipped")
    with pytest.raises(ValidationError) as refused:
        services.add_charge(
            req.pk, actor=rita, kind="lending_fee", amount=Decimal("30.00"), currency="cad"
        )
    assert "Record the amount in USD" in refused.value.message_dict["currency"][0]
    assert not Charge.objects.exists()
    with pytest.raises(PermissionError):
        Charge.objects.all().delete()


def test_only_the_team_records_charges_and_bad_amounts_are_refused(request_in, alice, rita):
    req = request_in("shipped")
    with pytest.raises(NotPermitted):
        services.add_charge(req.pk, actor=alice, kind="shipping", amount=Decimal("1"))
    with pytest.raises(ValidationError) as refused:
        services.add_charge(req.pk, actor=rita, kind="shipping", amount=Decimal("-1"))
    assert "amount" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        services.add_charge(req.pk, actor=rita, kind="bribe", amount=Decimal("1"))
    assert "kind" in refused.value.message_dict
    assert not Charge.objects.exists()


def test_messages_go_to_the_other_side(request_in, alice, bob, rita):
    req = request_in("sourcing")
    services.post_message(req.pk, actor=alice, body="Any large-print copy is fine.")
    services.post_message(req.pk, actor=rita, body="Noted.")
    with pytest.raises(NotPermitted):
        services.post_message(req.pk, actor=bob, body="Not my library")
    with pytest.raises(ValidationError):
        services.post_message(req.pk, actor=alice, body="   ")
    assert list(Message.objects.values_list("author__username", "body")) == [
        ("alice", "Any large-print copy is fine."),
        ("rita", "Noted."),
    ]
    assert list(Notification.objects.filter(kind="message").values_list("audience", flat=True)) == [
        "team",
        "library",
    ]


def test_a_total_too_large_for_one_loan_is_refused(request_in, rita):
    from requests_app.services import MAX_TOTAL

    req = request_in("shipped")
    services.add_charge(req.pk, actor=rita, kind="invoice", amount=Decimal("50.00"))
    # As many charges before it as would carry the total this far.
    Charge.objects.filter(request=req).update(amount=MAX_TOTAL - 1)
    with pytest.raises(ValidationError) as refused:
        services.add_charge(req.pk, actor=rita, kind="invoice", amount=Decimal("1.00"))
    assert "amount" in refused.value.message_dict
    assert req.charges.count() == 1
