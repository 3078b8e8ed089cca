"""The charges are a ledger: a charge is never changed or deleted; a mistake is voided by a
reversing entry, and invoiced and paid are dated states. The total, the over-max-cost flag
and the charges report follow the ledger."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import NotAllowedNow, NotPermitted
from requests_app import services
from requests_app.flags import flags_of
from requests_app.models import Charge
from requests_app.reports import queries as reports

TODAY = timezone.localdate


def charged(request_in, rita, amount="1000"):
    req = request_in("shipped")
    charge = services.add_charge(req.pk, actor=rita, kind="lending_fee", amount=Decimal(amount))
    req.refresh_from_db()
    return req, charge


def test_a_mistyped_charge_is_voided_by_a_reversing_entry(request_in, rita):
    req, typo = charged(request_in, rita)
    assert flags_of(req) == ["over_max_cost"]

    void = services.void_charge(req.pk, actor=rita, charge_id=typo.pk, reason="Typed 1e3.")

    req.refresh_from_db()
    assert (void.amount, void.voids, void.kind, void.reason) == (
        Decimal("-1000.00"), typo, "lending_fee", "Typed 1e3."
    )  # fmt: skip
    assert Charge.objects.filter(request=req).count() == 2  # both entries stay
    assert req.charges_total == Decimal("0.00")
    assert flags_of(req) == []
    event = req.events.latest("id")
    assert event.action == "void_charge"
    assert event.changes == {"charges_total": ["1000.00", "0.00"]}
    assert "Typed 1e3." in event.note


def test_a_charge_is_voided_once_and_a_void_is_not_voided(request_in, rita):
    req, typo = charged(request_in, rita)
    void = services.void_charge(req.pk, actor=rita, charge_id=typo.pk, reason="Typo")
    with pytest.raises(NotAllowedNow, match="was voided on"):
        services.void_charge(req.pk, actor=rita, charge_id=typo.pk, reason="Again")
    with pytest.raises(NotAllowedNow, match="This entry is a void"):
        services.void_charge(req.pk, actor=rita, charge_id=void.pk, reason="Undo")
    with pytest.raises(ValidationError) as refused:
        services.void_charge(req.pk, actor=rita, charge_id=999_999, reason="Typo")
    assert refused.value.message_dict == {"charge": ["No such charge on this request."]}
    with pytest.raises(ValidationError) as refused:
        services.void_charge(req.pk, actor=rita, charge_id=typo.pk, reason=" ")
    assert refused.value.message_dict == {"reason": ["Say why the charge is voided."]}
    assert Charge.objects.count() == 2


def test_the_database_keeps_the_ledger_signs(request_in, rita):
    req, charge = charged(request_in, rita, "5")
    negative = Charge(request=req, kind="shipping", amount=Decimal("-1"), created_by=rita)
    with pytest.raises(IntegrityError), transaction.atomic():
        negative.save()


def test_invoiced_and_paid_are_dated_once(request_in, rita):
    req, charge = charged(request_in, rita, "12.50")
    services.charge_invoiced(req.pk, actor=rita, charge_id=charge.pk)
    services.charge_paid(req.pk, actor=rita, charge_id=charge.pk, paid_on=TODAY())
    charge.refresh_from_db()
    assert (charge.invoiced_on, charge.paid_on) == (TODAY(), TODAY())
    assert (charge.invoiced, charge.paid) == (True, True)
    with pytest.raises(NotAllowedNow, match=f"It was paid on {TODAY():%Y-%m-%d}"):
        services.charge_paid(req.pk, actor=rita, charge_id=charge.pk)
    actions = list(req.events.order_by("id").values_list("action", flat=True))
    assert actions[-2:] == ["charge_invoiced", "charge_paid"]


def test_a_payment_date_is_in_the_past_and_after_the_request(request_in, rita):
    req, charge = charged(request_in, rita, "12.50")
    for day, words in [
        (TODAY() + dt.timedelta(days=1), "cannot be in the future"),
        (timezone.localdate(req.created_at) - dt.timedelta(days=1), "before the request"),
    ]:
        with pytest.raises(ValidationError) as refused:
            services.charge_paid(req.pk, actor=rita, charge_id=charge.pk, paid_on=day)
        assert words in refused.value.message_dict["paid_on"][0]
    assert Charge.objects.get(pk=charge.pk).paid_on is None


def test_a_voided_charge_is_neither_billed_nor_paid(request_in, rita):
    req, charge = charged(request_in, rita)
    services.void_charge(req.pk, actor=rita, charge_id=charge.pk, reason="Typo")
    with pytest.raises(NotAllowedNow, match="voided"):
        services.charge_invoiced(req.pk, actor=rita, charge_id=charge.pk)


def test_the_ledger_is_the_teams(request_in, rita, alice):
    req, charge = charged(request_in, rita)
    for act in (services.void_charge, services.charge_invoiced, services.charge_paid):
        kwargs = {"reason": "x"} if act is services.void_charge else {}
        with pytest.raises(NotPermitted):
            act(req.pk, actor=alice, charge_id=charge.pk, **kwargs)


def test_the_charges_report_leaves_voids_out_and_follows_payments(request_in, rita, admin_user):
    req, typo = charged(request_in, rita)
    fee = services.add_charge(req.pk, actor=rita, kind="lending_fee", amount=Decimal("10"))
    services.void_charge(req.pk, actor=rita, charge_id=typo.pk, reason="Typo")
    scope = reports.Scope(admin_user, TODAY() - dt.timedelta(days=100), TODAY()).whole_quarters()

    def row():
        (only,) = reports.charges_by_quarter(scope)
        return (only.charges, only.total, only.invoiced, only.paid, only.unpaid)

    assert row() == (1, Decimal("10.00"), Decimal("0.00"), Decimal("0.00"), Decimal("10.00"))
    services.charge_paid(req.pk, actor=rita, charge_id=fee.pk)
    assert row() == (1, Decimal("10.00"), Decimal("0.00"), Decimal("10.00"), Decimal("0.00"))


def test_the_page_offers_only_the_entries_each_action_applies_to(client, request_in, rita):
    req, typo = charged(request_in, rita)
    fee = services.add_charge(req.pk, actor=rita, kind="shipping", amount=Decimal("4"))
    services.void_charge(req.pk, actor=rita, charge_id=typo.pk, reason="Typo")
    services.charge_paid(req.pk, actor=rita, charge_id=fee.pk)
    client.force_login(rita)
    side = client.get(f"/requests/{req.pk}/").context["side_actions"]
    assert [c for c, _ in side["void-charge"][1].fields["charge"].choices] == [fee.pk]
    assert [c for c, _ in side["charge-invoiced"][1].fields["charge"].choices] == [fee.pk]
    assert "charge-paid" not in side  # the only standing charge is paid


def test_the_api_voids_bills_and_pays(api, request_in, rita):
    req, typo = charged(request_in, rita)
    team = api(rita)
    address = f"/api/v1/requests/{req.pk}"
    response = team.post(
        f"{address}/void-charge/", {"charge": typo.pk, "reason": "Typo"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["charges_total"] == "0.00"
    entries = {c["id"]: c for c in response.json()["charges"]}
    assert entries[typo.pk]["voided_by"] is not None
    assert entries[entries[typo.pk]["voided_by"]]["voids"] == typo.pk
    again = team.post(
        f"{address}/void-charge/", {"charge": typo.pk, "reason": "Typo"}, format="json"
    )
    assert again.status_code == 409
    fee = services.add_charge(req.pk, actor=rita, kind="shipping", amount=Decimal("4"))
    assert (
        team.post(f"{address}/charge-invoiced/", {"charge": fee.pk}, format="json").status_code
        == 200
    )
    paid = team.post(
        f"{address}/charge-paid/", {"charge": fee.pk, "paid_on": str(TODAY())}, format="json"
    )
    charge = {c["id"]: c for c in paid.json()["charges"]}[fee.pk]
    assert (charge["invoiced"], charge["paid"], charge["paid_on"]) == (True, True, str(TODAY()))
