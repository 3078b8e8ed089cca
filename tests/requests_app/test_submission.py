"""Submitting a request: what is checked, what is normalised, and that bad input saves nothing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.errors import NotPermitted
from members.models import Patron
from requests_app import workflow
from requests_app.models import BorrowingRequest, Notification, StatusEvent


def test_it_records_the_submission_as_the_first_event(submit, alice):
    req = submit(title="Moby-Dick", isbn="0-306-40615-2")

    event = req.events.get()
    assert (event.action, event.from_status, event.to_status, event.actor) == (
        "submit",
        "",
        "submitted",
        alice,
    )
    assert req.status == "submitted"
    assert req.created_by == alice


def test_it_normalises_identifiers(submit):
    req = submit(isbn="0-306-40615-2", issn="0317 8471", oclc_number="ocm00012345")
    req.refresh_from_db()
    assert (req.isbn, req.issn, req.oclc_number) == ("9780306406157", "0317-8471", "12345")


def test_max_cost_defaults_to_the_library_profile(submit, library_one):
    assert submit().max_cost == library_one.max_cost == Decimal("25.00")


def test_staff_may_not_go_above_the_library_max_cost_but_the_team_may(
    alice, rita, patron, library_one
):
    with pytest.raises(ValidationError) as refused:
        workflow.submit_request(
            actor=alice,
            library=library_one,
            patron=patron,
            citation={"title": "X"},
            max_cost=Decimal("25.01"),
        )
    assert "max_cost" in refused.value.message_dict
    req = workflow.submit_request(
        actor=rita,
        library=library_one,
        patron=patron,
        citation={"title": "X"},
        max_cost=Decimal("40.00"),
    )
    assert req.max_cost == Decimal("40.00")


@pytest.mark.parametrize(
    ("citation", "extra", "field"),
    [
        ({"title": ""}, {}, "title"),
        ({"isbn": "978-0-306-40615-8"}, {}, "isbn"),
        ({"isbn": "12345"}, {}, "isbn"),
        ({"issn": "0317-8472"}, {}, "issn"),
        ({"oclc_number": "abc123"}, {}, "oclc_number"),
        ({"format": "article"}, {}, "format"),
        ({}, {"max_cost": Decimal("-1")}, "max_cost"),
        ({}, {"needed_by": "yesterday"}, "needed_by"),
    ],
)
def test_bad_input_is_refused_by_field_and_saves_nothing(alice, patron, citation, extra, field):
    citation = {"title": "A title"} | citation
    if extra.get("needed_by") == "yesterday":
        extra = {"needed_by": timezone.localdate() - dt.timedelta(days=1)}
    with pytest.raises(ValidationError) as refused:
        workflow.submit_request(
            actor=alice, library=alice.library, patron=patron, citation=citation, **extra
        )
    assert field in refused.value.message_dict
    assert BorrowingRequest.objects.count() == 0
    assert StatusEvent.objects.count() == 0
    assert Notification.objects.count() == 0


def test_the_isbn_message_says_what_is_wrong(submit):
    with pytest.raises(ValidationError) as refused:
        submit(isbn="978-0-306-40615-8")
    assert "check digit" in refused.value.message_dict["isbn"][0]


def test_staff_cannot_submit_for_another_library(bob, alice, patron):
    with pytest.raises(NotPermitted):
        workflow.submit_request(
            actor=bob, library=alice.library, patron=patron, citation={"title": "X"}
        )
    assert BorrowingRequest.objects.count() == 0


def test_the_patron_must_belong_to_the_library(alice, library_two):
    stranger = Patron.objects.create(library=library_two, card_number="999")
    with pytest.raises(ValidationError) as refused:
        workflow.submit_request(
            actor=alice, library=alice.library, patron=stranger, citation={"title": "X"}
        )
    assert "patron" in refused.value.message_dict


def test_submission_tells_the_team_after_commit(submit, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        req = submit()
    notification = Notification.objects.get(request=req)
    assert (notification.kind, notification.audience) == ("submitted", "team")
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    ("value", "words"),
    [("article", "document delivery"), ("ebook", "returnable items only")],
)
def test_articles_and_ebooks_are_refused_with_where_to_go_instead(submit, value, words):
    with pytest.raises(ValidationError) as refused:
        submit(format=value)
    assert words in refused.value.message_dict["format"][0]
    assert BorrowingRequest.objects.count() == 0


def test_disc_details_are_kept_for_video_only(submit):
    book = submit(format="book", dvd_region="2", video_encoding="pal")
    film = submit(format="video", dvd_region="2", video_encoding="pal")
    assert (book.dvd_region, book.video_encoding) == ("", "")
    assert (film.dvd_region, film.video_encoding) == ("2", "pal")
