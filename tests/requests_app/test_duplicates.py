"""The duplicate check: a submission for an item the library already asked for, in an open
request, is refused on ``duplicate_reason`` with the matches, and goes through with a
reason, flagged for the team. The same at the page and the API."""

import re

import pytest
from django.core.exceptions import ValidationError

from members.models import Patron
from requests_app import corrections, workflow
from requests_app.duplicates import DuplicateRefusal
from requests_app.flags import flags_of
from requests_app.identifiers import item_key
from requests_app.models import BorrowingRequest, StatusEvent
from tests.queries import captured

HOBBIT = {"title": "The Hobbit", "author": "Tolkien, J. R. R."}


@pytest.fixture
def other_patron(library_one):
    return Patron.objects.create(library=library_one, card_number="21234000222", name="Other")


def submit_as(actor, patron, reason: str = "", **citation) -> BorrowingRequest:
    return workflow.submit_request(
        actor=actor,
        library=patron.library,
        patron=patron,
        citation=citation,
        duplicate_reason=reason,
    )


def refused(actor, patron, **citation) -> DuplicateRefusal:
    with pytest.raises(DuplicateRefusal) as refusal:
        submit_as(actor, patron, **citation)
    return refusal.value


# --- The key of an item -------------------------------------------------------------------


@pytest.mark.parametrize(
    "title, author",
    [
        ("the hobbit", "J. R. R. Tolkien"),  # case; the author's names in either order
        ("  Hobbit!  ", "TOLKIEN, J.R.R."),  # the leading article, punctuation, spaces
        ("The Hobbit.", "Tolkien J R R"),
    ],
)
def test_the_key_overlooks_case_punctuation_articles_and_spacing(title, author):
    key = item_key(format="book", volume="", **HOBBIT)
    assert item_key(format="book", title=title, author=author, volume="") == key


@pytest.mark.parametrize(
    "change",
    [{"format": "audiobook"}, {"volume": "2"}, {"author": "Someone Else"}, {"title": "Hobbits"}],
)
def test_another_format_volume_author_or_title_is_another_item(change):
    item = {"format": "book", "volume": "", **HOBBIT}
    assert item_key(**item | change) != item_key(**item)


def test_volume_words_are_left_out():
    item = {"format": "book", **HOBBIT}
    assert item_key(**item, volume="Vol. 2") == item_key(**item, volume="v. 2")


# --- The check ----------------------------------------------------------------------------


def test_the_same_patron_asking_again_is_refused_with_the_match(alice, patron):
    first = submit_as(alice, patron, **HOBBIT)

    refusal = refused(alice, patron, title="hobbit", author="J.R.R. Tolkien")

    assert refusal.message_dict == {
        "duplicate_reason": [
            f"Your library already has an open request for this item: #{first.pk} for this "
            "patron (submitted). Check it before submitting another; to submit this one all "
            "the same, say why."
        ]
    }
    assert [(d.id, d.patron_is_same) for d in refusal.duplicates] == [(first.pk, True)]
    assert BorrowingRequest.objects.count() == 1


def test_another_patrons_request_counts_too_and_this_patrons_come_first(
    alice, patron, other_patron
):
    for_other = submit_as(alice, other_patron, isbn="0-306-40615-2", title="Some edition")
    for_this = submit_as(alice, patron, "Another copy", isbn="978-0-306-40615-7", title="X")

    refusal = refused(alice, patron, isbn="0306406152", title="Anything")

    assert [(d.id, d.patron_is_same) for d in refusal.duplicates] == [
        (for_this.pk, True),
        (for_other.pk, False),
    ]
    assert f"#{for_other.pk} for another patron (submitted)" in refusal.messages[0]


@pytest.mark.parametrize(
    "first, again",
    [
        ({"isbn": "0-306-40615-2"}, {"isbn": "978-0-306-40615-7"}),  # ISBN-10 and ISBN-13
        ({"oclc_number": "ocm00012345"}, {"oclc_number": "(OCoLC)12345"}),
    ],
    ids=["isbn", "oclc"],
)
def test_the_same_number_finds_it_whatever_the_title(alice, patron, first, again):
    submit_as(alice, patron, title="Moby-Dick", **first)
    refused(alice, patron, title="Moby Dick; or, The Whale", **again)


def test_one_number_for_a_whole_set_is_not_one_item_for_each_volume(alice, patron):
    """A set often has one OCLC record and one ISBN for all its volumes: asking for
    volume 2 while volume 1 is open is not a duplicate; asking for volume 1 again is."""
    number = {"oclc_number": "21226043", "title": "Journal", "author": "Thoreau"}
    submit_as(alice, patron, volume="v. 1", **number)
    submit_as(alice, patron, volume="Volume 2", **number)
    refused(alice, patron, volume="Vol. 1", **{**number, "title": "The Journal, 1837-1861"})


def test_an_ended_request_does_not_count(alice, rita, patron, request_in):
    done = request_in("completed")
    workflow.cancel(request_in("submitted").pk, actor=alice)

    again = submit_as(alice, patron, title=done.title, volume=done.volume)

    assert again.possible_duplicate_of is None


def test_another_librarys_request_does_not_count(alice, bob, patron, library_two):
    theirs = Patron.objects.create(library=library_two, card_number="555", name="Theirs")
    submit_as(bob, theirs, **HOBBIT)

    assert submit_as(alice, patron, **HOBBIT).possible_duplicate_of is None


def test_going_on_with_a_reason_keeps_it_and_flags_the_request(alice, patron, other_patron):
    first = submit_as(alice, other_patron, **HOBBIT)
    second = submit_as(alice, patron, "Book group copy", **HOBBIT)

    third = submit_as(alice, patron, "  Large print wanted  ", **HOBBIT)

    assert third.possible_duplicate_of_id == second.pk  # this patron's first
    assert StatusEvent.objects.get(request=third).note == (
        f"Submitted although #{second.pk} and #{first.pk} ask for the same item: Large print wanted"
    )
    assert second.possible_duplicate_of_id == first.pk
    assert flags_of(third) == ["possible_duplicate"]
    assert "possible_duplicate" not in flags_of(first)


def test_a_reason_with_nothing_to_excuse_is_not_recorded(alice, patron):
    req = submit_as(alice, patron, "Just in case", **HOBBIT)
    assert (req.possible_duplicate_of, StatusEvent.objects.get(request=req).note) == (None, "")


@pytest.mark.parametrize("reason", ["", "   \t "], ids=["empty", "blank"])
def test_a_blank_reason_is_refused(alice, patron, reason):
    submit_as(alice, patron, **HOBBIT)
    refusal = refused(alice, patron, reason=reason, **HOBBIT)
    assert set(refusal.message_dict) == {"duplicate_reason"}


def test_a_reason_too_long_is_refused_on_its_field(alice, patron):
    submit_as(alice, patron, **HOBBIT)
    with pytest.raises(ValidationError) as refusal:
        submit_as(alice, patron, "r" * 301, **HOBBIT)
    assert "at most 300 characters" in refusal.value.message_dict["duplicate_reason"][0]


def test_other_problems_are_told_at_the_same_time(alice, patron):
    submit_as(alice, patron, **HOBBIT)
    with pytest.raises(DuplicateRefusal) as refusal:
        workflow.submit_request(
            actor=alice,
            library=patron.library,
            patron=patron,
            citation=HOBBIT,
            notes="n" * 2001,
        )
    assert set(refusal.value.message_dict) == {"notes", "duplicate_reason"}


def test_the_check_is_one_query(alice, patron):
    submit_as(alice, patron, **HOBBIT)
    with captured() as queries:
        refused(alice, patron, isbn="0-306-40615-2", oclc_number="12345", **HOBBIT)
    # savepoint, the check (ISBN, OCLC number and key in one statement), rollback to the
    # savepoint, release it.
    queries.expect(4)


def test_an_edited_item_is_found_by_its_new_title(alice, rita, patron):
    req = submit_as(alice, patron, title="The Hobit", author="Tolkien")
    corrections.edit_item(req.pk, actor=rita, citation={"title": "The Hobbit"})

    refused(alice, patron, title="Hobbit", author="Tolkien")


def test_requesting_again_is_refused_while_another_request_is_open(alice, rita, patron, request_in):
    unfilled = request_in("unfilled")
    submit_as(alice, patron, "Another try", title=unfilled.title, volume=unfilled.volume)

    with pytest.raises(DuplicateRefusal):
        workflow.request_again(unfilled.pk, actor=alice)
    assert not unfilled.followed_by.exists()


# --- The page -----------------------------------------------------------------------------

PAGE = {"card_number": "21234000111", "format": "book", "max_cost": "5", **HOBBIT}


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


def test_the_page_warns_with_a_link_to_each_match_this_patrons_first(
    as_alice, alice, patron, other_patron
):
    for_other = submit_as(alice, other_patron, **HOBBIT)
    for_this = submit_as(alice, patron, "Book group", **HOBBIT)

    response = as_alice.post("/requests/new/", PAGE)

    assert response.status_code == 400
    html = response.content.decode()
    this_patron, other_patrons = html.index("For this patron"), html.index("For other patrons")
    assert this_patron < html.index(f'href="/requests/{for_this.pk}/"') < other_patrons
    assert other_patrons < html.index(f'href="/requests/{for_other.pk}/"')
    assert 'id="id_duplicate_reason"' in html
    assert response.context["form"].errors == {
        "duplicate_reason": [
            "Your library already has open requests for this item: "
            f"#{for_this.pk} for this patron (submitted); #{for_other.pk} for another patron "
            "(submitted). Check them before submitting another; to submit this one all the "
            "same, say why."
        ]
    }
    assert BorrowingRequest.objects.count() == 2


def test_the_page_asks_no_reason_when_there_is_nothing_to_excuse(as_alice, patron):
    html = as_alice.get("/requests/new/").content.decode()
    assert "duplicate_reason" not in html


def test_going_on_with_a_reason_on_the_page_submits_it(as_alice, alice, patron):
    first = submit_as(alice, patron, **HOBBIT)

    response = as_alice.post("/requests/new/", PAGE | {"duplicate_reason": "Second copy"})

    assert response.status_code == 302
    req = BorrowingRequest.objects.latest("pk")
    assert req.possible_duplicate_of == first
    assert StatusEvent.objects.get(request=req).note.endswith(": Second copy")
    page = as_alice.get(response["Location"]).content.decode()
    assert "asked for the same item" in page and f'href="/requests/{first.pk}/"' in page


def test_an_empty_reason_is_refused_beside_its_field(as_alice, alice, patron):
    submit_as(alice, patron, **HOBBIT)

    response = as_alice.post("/requests/new/", PAGE | {"duplicate_reason": "  "})

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_duplicate_reason_error"' in html
    box = re.search(r'<input[^>]*id="id_duplicate_reason"[^>]*>', html)
    assert box is not None and 'aria-invalid="true"' in box.group()
    assert BorrowingRequest.objects.count() == 1


def test_a_new_patron_given_with_a_refused_request_is_not_registered(as_alice, alice, patron):
    submit_as(alice, patron, **HOBBIT)

    response = as_alice.post(
        "/requests/new/", PAGE | {"card_number": "999000", "patron_name": "New Reader"}
    )

    assert response.status_code == 400
    assert "for another patron" in response.context["form"].errors["duplicate_reason"][0]
    assert not Patron.objects.filter(card_number="999000").exists()


# --- The API ------------------------------------------------------------------------------

API = {"patron": {"card_number": "21234000111"}, "format": "book", **HOBBIT}


def test_the_api_answers_400_with_the_matches_then_201_with_a_reason(api, alice, patron):
    first = submit_as(alice, patron, **HOBBIT)

    refused_answer = api(alice).post("/api/v1/requests/", API, format="json")

    assert refused_answer.status_code == 400
    body = refused_answer.json()
    assert set(body) == {"duplicate_reason", "duplicates"}
    assert body["duplicates"] == [
        {
            "id": first.pk,
            "status": "submitted",
            "title": "The Hobbit",
            "created_at": body["duplicates"][0]["created_at"],
            "patron_is_same": True,
            "url": f"/api/v1/requests/{first.pk}/",
        }
    ]
    assert BorrowingRequest.objects.count() == 1

    answer = api(alice).post(
        "/api/v1/requests/", API | {"duplicate_reason": "Second copy"}, format="json"
    )

    assert answer.status_code == 201, answer.json()
    assert answer.json()["possible_duplicate_of"] == first.pk
    assert answer.json()["flags"] == ["possible_duplicate"]


def test_the_api_registers_no_new_patron_with_a_refused_request(api, alice, patron):
    submit_as(alice, patron, **HOBBIT)
    new_patron = {"card_number": "999000", "name": "New Reader"}

    answer = api(alice).post("/api/v1/requests/", API | {"patron": new_patron}, format="json")

    assert answer.status_code == 400
    assert answer.json()["duplicates"][0]["patron_is_same"] is False
    assert not Patron.objects.filter(card_number="999000").exists()


def test_the_team_submitting_is_warned_with_no_patron_named(api, alice, rita, patron):
    submit_as(alice, patron, **HOBBIT)

    answer = api(rita).post("/api/v1/requests/", API | {"library": "ABBOT"}, format="json")

    assert answer.status_code == 400
    assert patron.name not in str(answer.json()) and patron.card_number not in str(answer.json())


# --- The team's queue ---------------------------------------------------------------------


@pytest.fixture
def as_rita(client, rita):
    client.force_login(rita)
    return client


def test_the_queue_shows_and_filters_possible_duplicates(as_rita, alice, patron):
    first = submit_as(alice, patron, **HOBBIT)
    again = submit_as(alice, patron, "Second copy", **HOBBIT)

    with captured() as queries:
        page = as_rita.get("/queue/")
    # As test_queue pins it: the badge reads the row's own column, no other request.
    queries.expect(7)
    found = as_rita.get("/queue/?flag=possible_duplicate")

    rows = {req.pk: req for req in page.context["page"]}
    assert set(rows) == {first.pk, again.pk}
    html = page.content.decode()
    assert html.count('class="flag flag-possible_duplicate">Possible duplicate<') == 1
    assert [req.pk for req in found.context["page"]] == [again.pk]
    api_found = as_rita.get("/api/v1/requests/?flag=possible_duplicate").json()["results"]
    assert [req["id"] for req in api_found] == [again.pk]
