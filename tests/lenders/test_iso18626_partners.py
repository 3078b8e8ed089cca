"""A lender as an ISO 18626 partner: its address, its agency and a password both sides
present, which is kept sealed (it is sent on, so it cannot be hashed) and never shown.
The admin sets them in the admin site and through the API; the team reads, nobody else."""

import pytest
from django.conf import settings
from django.urls import reverse

from core.secrets import UnreadableSecret, seal, unseal
from lenders.models import Lender

PARTNER = {
    "name": "Lakeside University Library",
    "oclc_symbol": "LKU",
    "kind": "out_of_state",
    "iso18626_address": "https://ill.lakeside.example.edu/iso18626",
    "agency_id_type": "ISIL",
    "agency_id_value": "US-LKU",
    "iso18626_password": "s3cret partner",
}


def test_a_secret_is_sealed_and_unsealed_only_under_its_key(settings):
    sealed = seal("s3cret")
    assert "s3cret" not in sealed and unseal(sealed) == "s3cret"
    assert seal("") == "" and unseal("") == ""
    settings.ILLDESK_SECRETS_KEY = "another key"
    with pytest.raises(UnreadableSecret):
        unseal(sealed)


def test_illdesk_has_its_own_agency():
    assert settings.ILLDESK_AGENCY_ID_TYPE == "ISIL" and settings.ILLDESK_AGENCY_ID_VALUE


def test_an_admin_adds_a_partner_and_its_password_is_never_shown(api, admin_user):
    answer = api(admin_user).post("/api/v1/lenders/", PARTNER, format="json")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["agency_id_value"] == "US-LKU" and body["has_iso18626_password"] is True
    assert "iso18626_password" not in body and "s3cret" not in answer.content.decode()
    lender = Lender.objects.get(oclc_symbol="LKU")
    assert lender.exchanges_iso18626
    assert "s3cret" not in lender.iso18626_password_sealed
    assert lender.iso18626_password() == "s3cret partner"


def test_a_change_keeps_the_password_unless_one_is_given(api, admin_user):
    pk = api(admin_user).post("/api/v1/lenders/", PARTNER, format="json").json()["id"]
    kept = api(admin_user).patch(f"/api/v1/lenders/{pk}/", {"notes": "New contact"}, format="json")
    assert kept.status_code == 200 and kept.json()["notes"] == "New contact"
    assert Lender.objects.get(pk=pk).iso18626_password() == "s3cret partner"
    api(admin_user).patch(f"/api/v1/lenders/{pk}/", {"iso18626_password": "n3w"}, format="json")
    assert Lender.objects.get(pk=pk).iso18626_password() == "n3w"
    removed = api(admin_user).patch(
        f"/api/v1/lenders/{pk}/", {"iso18626_password": ""}, format="json"
    )
    assert removed.json()["has_iso18626_password"] is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"iso18626_address": "not a url"}, "iso18626_address"),
        ({"agency_id_value": ""}, "agency_id_value"),  # an address needs its agency
        ({"kind": "planet"}, "kind"),
    ],
)
def test_bad_input_is_a_400_on_its_field_and_saves_nothing(api, admin_user, change, field):
    answer = api(admin_user).post("/api/v1/lenders/", PARTNER | change, format="json")
    assert answer.status_code == 400 and field in answer.json(), answer.json()
    assert not Lender.objects.filter(oclc_symbol="LKU").exists()


def test_one_agency_is_one_lender(api, admin_user):
    api(admin_user).post("/api/v1/lenders/", PARTNER, format="json")
    again = api(admin_user).post(
        "/api/v1/lenders/", PARTNER | {"oclc_symbol": "LK2", "name": "Copy"}, format="json"
    )
    assert again.status_code == 400


def test_only_admins_change_the_directory(api, rita, alice):
    assert api(rita).post("/api/v1/lenders/", PARTNER, format="json").status_code == 403
    assert api(alice).post("/api/v1/lenders/", PARTNER, format="json").status_code == 403
    assert api(rita).get("/api/v1/lenders/").status_code == 200
    assert not Lender.objects.exists()


def test_the_admin_site_writes_the_password_and_never_shows_it(client, admin_user, lender):
    client.force_login(admin_user)
    url = reverse("admin:lenders_lender_change", args=[lender.pk])
    form = {
        "name": lender.name, "oclc_symbol": lender.oclc_symbol, "kind": lender.kind,
        "country": "US", "usual_fee": "0.00", "fee_currency": "USD", "is_active": "on",
        "iso18626_address": PARTNER["iso18626_address"], "agency_id_type": "ISIL",
        "agency_id_value": "US-CVC", "iso18626_password": "adm1n set",
        "availability_reports-TOTAL_FORMS": "0", "availability_reports-INITIAL_FORMS": "0",
    }  # fmt: skip
    assert client.post(url, form).status_code == 302
    lender.refresh_from_db()
    assert lender.iso18626_password() == "adm1n set"
    assert "adm1n set" not in client.get(url).content.decode()
    client.post(url, form | {"iso18626_password": ""})
    lender.refresh_from_db()
    assert lender.iso18626_password() == "adm1n set"  # empty: kept
    client.post(url, form | {"iso18626_password": "", "remove_iso18626_password": "on"})
    lender.refresh_from_db()
    assert lender.iso18626_password_sealed == ""
