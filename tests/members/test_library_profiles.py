"""Member library profiles: the team reads them all, a library's staff their own, admins
edit them, and every change is kept with who made it, when and why."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from members.models import MemberLibrary
from members.views import HISTORY_SHOWN, profile_history
from tests.queries import captured


@pytest.fixture
def as_rita(client, rita):
    client.force_login(rita)
    return client


@pytest.fixture
def as_admin(client, admin_user):
    client.force_login(admin_user)
    return client


def detail(library) -> str:
    return reverse("library_detail", args=[library.pk])


def edit(library) -> str:
    return reverse("library_edit", args=[library.pk])


def profile(library, **changes) -> dict:
    """The edit form's data: the library as it is, with ``changes``."""
    data = {
        "name": library.name,
        "ill_code": library.ill_code,
        "bpl_number": library.bpl_number,
        "oclc_symbol": library.oclc_symbol,
        "library_type": library.library_type,
        "region": library.region,
        "delivery_route_code": library.delivery_route_code,
        "address": library.address,
        "contact_name": library.contact_name,
        "contact_email": library.contact_email,
        "contact_phone": library.contact_phone,
        "dvd_region": library.dvd_region,
        "video_encoding": library.video_encoding,
        "max_cost": str(library.max_cost),
        "notes": library.notes,
        "reason": "",
    }
    if library.on_delivery:
        data["on_delivery"] = "on"
    if library.is_active:
        data["is_active"] = "on"
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def names(client, query=""):
    response = client.get(f"/libraries/?{query}")
    assert response.status_code == 200, response.content.decode()[:2000]
    return [library.name for library in response.context["page"]]


# --- Who may see what ---------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_log_in(client, library_one):
    for url in ["/libraries/", detail(library_one), edit(library_one)]:
        assert client.get(url)["Location"].startswith("/accounts/login/")


def test_library_staff_read_their_own_profile_only(client, alice, library_one, library_two):
    client.force_login(alice)
    response = client.get(detail(library_one))
    assert response.status_code == 200
    assert "Change history" in response.content.decode()  # their own history, too
    assert "Edit the profile" not in response.content.decode()
    assert client.get(detail(library_two)).status_code == 404
    assert client.get("/libraries/999999/").status_code == 404
    # The list is the team's: a library's staff are sent to their own profile.
    assert client.get("/libraries/")["Location"] == detail(library_one)


def test_bob_gets_a_404_for_alices_library(client, bob, library_one):
    client.force_login(bob)
    assert client.get(detail(library_one)).status_code == 404


def test_the_team_reads_every_profile(as_rita, library_one, library_two):
    assert as_rita.get(detail(library_one)).status_code == 200
    response = as_rita.get(detail(library_two))
    assert response.status_code == 200
    assert "Edit the profile" not in response.content.decode()  # editing is for admins


def test_only_admins_edit(client, alice, rita, library_one):
    for user in (alice, rita):
        client.force_login(user)
        assert client.get(edit(library_one)).status_code == 403
        response = client.post(edit(library_one), profile(library_one, max_cost="99.00"))
        assert response.status_code == 403
    library_one.refresh_from_db()
    assert library_one.max_cost == Decimal("25.00")


def test_rita_gets_a_403_on_edit(as_rita, library_one):
    assert as_rita.get(edit(library_one)).status_code == 403


# --- The list -----------------------------------------------------------------------------------


def test_the_team_searches_by_name_ill_code_or_bpl_number(as_rita, library_one, library_two):
    assert names(as_rita) == ["Abbot Public Library", "Borden Free Library"]
    assert names(as_rita, "q=borden") == ["Borden Free Library"]  # the ILL code, any case
    assert names(as_rita, "q=public") == ["Abbot Public Library"]  # part of the name
    assert names(as_rita, "q=29990002") == ["Borden Free Library"]  # the BPL number
    assert names(as_rita, "q=2999") == []  # a BPL number matches whole


def test_the_team_filters_by_region_and_active(as_rita, library_one, library_two):
    library_two.is_active = False
    library_two.save()
    assert names(as_rita, "region=Western") == ["Borden Free Library"]
    assert names(as_rita, "active=yes") == ["Abbot Public Library"]
    assert names(as_rita, "active=no&region=Northeast") == []
    assert as_rita.get("/libraries/?region=Atlantis").status_code == 400


@pytest.mark.parametrize("libraries", [1, 12])
def test_the_list_costs_the_same_queries_for_one_library_or_many(as_rita, libraries):
    for number in range(libraries):
        MemberLibrary.objects.create(
            name=f"Library {number:02}", ill_code=f"L{number:02}", bpl_number=f"100{number:02}",
            library_type="public", region=f"Region {number % 3}",
        )  # fmt: skip
    with captured() as queries:
        response = as_rita.get("/libraries/?page_size=50&q=library")
    assert response.status_code == 200
    assert len(response.context["page"]) == libraries
    # session, user, the regions for the filter, pager count, the page.
    queries.expect(5)


# --- Editing and the history --------------------------------------------------------------------


def test_an_admin_changes_the_max_cost_and_the_history_shows_it(as_admin, admin_user, library_one):
    response = as_admin.post(
        edit(library_one), profile(library_one, max_cost="40.00", reason="Board raised it")
    )
    assert response.status_code == 302
    assert response["Location"] == detail(library_one)
    library_one.refresh_from_db()
    assert library_one.max_cost == Decimal("40.00")

    newest = library_one.history.first()
    assert (newest.history_user, newest.history_change_reason) == (admin_user, "Board raised it")

    page = as_admin.get(detail(library_one))
    html = page.content.decode()
    assert "Max cost: 25.00 → 40.00" in html
    assert "Board raised it" in html
    assert "Profile created" in html
    entry = page.context["history"][0]
    assert entry.record.history_user == admin_user
    assert [(c.label, c.old, c.new) for c in entry.changes] == [("max cost", "25.00", "40.00")]
    # The service's day (its time zone), as the page shows it, not UTC's.
    assert timezone.localtime(newest.history_date).strftime("%Y-%m-%d") in html
    assert "Edit the profile" in html


def test_the_history_names_choices_and_yes_no(as_admin, library_one):
    as_admin.post(edit(library_one), profile(
        library_one, library_type="academic", on_delivery=None, delivery_route_code="R7",
    ))  # fmt: skip
    html = as_admin.get(detail(library_one)).content.decode()
    assert "Library type: Public → Academic" in html
    assert "On the Delivery route: Yes → No" in html
    assert "Delivery route code: — → R7" in html


def test_an_edit_that_changes_nothing_saves_nothing(as_admin, library_one):
    before = library_one.history.count()
    response = as_admin.post(edit(library_one), profile(library_one))
    assert response.status_code == 302
    assert library_one.history.count() == before


def test_a_browsers_line_endings_are_not_a_change(as_admin, admin_user, library_one):
    """A browser sends a text area's lines ended by CR LF: the unchanged address is not a
    change, and a record saved so before this rule is not shown as one."""
    MemberLibrary.objects.filter(pk=library_one.pk).update(address="1 Main St\nAbbot, MA")
    library_one.refresh_from_db()
    before = library_one.history.count()
    sent = profile(library_one, address="1 Main St\r\nAbbot, MA")
    assert as_admin.post(edit(library_one), sent).status_code == 302
    assert library_one.history.count() == before

    # A record from before: the address saved with CR LF, then saved back with LF.
    library_one.address = "1 Main St\r\nAbbot, MA"
    library_one._history_user = admin_user
    library_one.save()
    library_one.address = "1 Main St\nAbbot, MA"
    library_one.max_cost = Decimal("30.00")
    library_one.save()
    entries = as_admin.get(detail(library_one)).context["history"]
    assert [(c.label, c.old, c.new) for c in entries[0].changes] == [("max cost", "25.00", "30.00")]
    assert all(entry.changes or entry.created for entry in entries)


def test_the_edit_form_shows_the_profile(as_admin, library_one):
    response = as_admin.get(edit(library_one))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="ABBOT"' in html
    assert '<label for="id_reason">' in html


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"ill_code": "borden"}, "ill_code", "A library with this ILL code already exists."),
        ({"ill_code": "BORDEN"}, "ill_code", "already exists"),
        ({"bpl_number": "29990002"}, "bpl_number", "already exists"),
        ({"bpl_number": "2999ABC"}, "bpl_number", "Use digits only."),
        ({"max_cost": "-1.00"}, "max_cost", "greater than or equal to 0"),
        ({"contact_email": "not-an-address"}, "contact_email", "valid email"),
        ({"name": ""}, "name", "required"),
    ],
)
def test_bad_input_is_a_400_next_to_its_field_and_nothing_is_saved(
    as_admin, library_one, library_two, changes, field, message
):
    before = library_one.history.count()
    response = as_admin.post(edit(library_one), profile(library_one, **changes, reason="Try"))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field], errors
    assert message in " ".join(errors[field])
    html = response.content.decode()
    assert 'role="alert"' in html
    assert f'href="#id_{field}"' in html  # the summary links to the field
    assert "Edit the profile of Abbot Public Library (ABBOT)" in html
    library_one.refresh_from_db()
    assert (library_one.ill_code, library_one.bpl_number, library_one.max_cost) == (
        "ABBOT",
        "29990001",
        Decimal("25.00"),
    )
    assert library_one.history.count() == before


def test_keeping_its_own_code_in_another_case_is_not_a_duplicate(as_admin, library_one):
    response = as_admin.post(edit(library_one), profile(library_one, ill_code="Abbot"))
    assert response.status_code == 302
    library_one.refresh_from_db()
    assert library_one.ill_code == "Abbot"


def test_the_history_shows_the_newest_changes_in_few_queries(as_rita, admin_user, library_one):
    for cents in range(HISTORY_SHOWN + 5):
        library_one.max_cost = Decimal("25.00") + Decimal(cents) / 100
        library_one._history_user = admin_user
        library_one.save()
    entries = profile_history(library_one)
    assert len(entries) == HISTORY_SHOWN
    # The oldest shown is diffed against its predecessor, which is not shown itself.
    assert [(c.old, c.new) for c in entries[-1].changes] == [("25.04", "25.05")]
    with captured() as queries:
        response = as_rita.get(detail(library_one))
    assert response.status_code == 200
    # session, user, the library, its history with who made each change.
    queries.expect(4)
