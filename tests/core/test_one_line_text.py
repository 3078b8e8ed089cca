"""One-line fields (a title, a card number, a tracking number) hold one line, whichever
door the text comes in by; an e-mail subject is one line whatever is stored."""

import datetime as dt
import logging

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.text import one_line
from members.models import MemberLibrary, Patron
from requests_app import notifications, tasks
from requests_app.models import BorrowingRequest, Notification

#: A title as a paste from a catalogue or a PDF can bring it.
PASTED = "The Wampanoag\r\nWay:\tan account\u2028of the\x0bpeople\x1b[0m \x07 "
TIDY = "The Wampanoag Way: an account of the people[0m"


@pytest.mark.parametrize(
    "given, kept",
    [
        (PASTED, TIDY),
        ("  plain  ", "plain"),
        ("two\n\nlines", "two lines"),
        ("tab\there", "tab here"),
        ("next\x85line and\u2029paragraph", "next line and paragraph"),
        ("bell\x07 and\x7f del\x9b", "bell and del"),
        ("lone \ud800 surrogate", "lone surrogate"),
        # Letters of every script, emoji and joiners stay as they are.
        ("Qu\u00e9bec \u00e0 l\u2019\u00e9t\u00e9 \U0001f4da", None),
        ("\u05e2\u05d1\u05e8\u05d9\u05ea \u0915\u094d\u200d\u0937", None),
    ],
)
def test_one_line_keeps_the_words_and_drops_the_breaks(given, kept):
    assert one_line(given) == (given if kept is None else kept)


def test_a_title_pasted_into_the_page_is_stored_on_one_line(client, alice, patron):
    client.force_login(alice)
    response = client.post(
        "/requests/new/",
        {
            "card_number": patron.card_number + "\n",
            "format": "book",
            "title": PASTED,
            "author": "Peters,\nAnn",
            "max_cost": "10.00",
        },
    )
    assert response.status_code == 302
    req = BorrowingRequest.objects.get()
    assert (req.title, req.author, req.patron) == (TIDY, "Peters, Ann", patron)


def test_a_title_sent_to_the_api_is_stored_on_one_line(api, alice, patron):
    response = api(alice).post(
        "/api/v1/requests/",
        {"title": PASTED, "format": "book", "patron": {"card_number": "777\r\n", "name": "A\tB"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["title"] == TIDY
    new_patron = Patron.objects.get(card_number="777")
    assert new_patron.name == "A B"


def test_a_tracking_number_from_the_api_is_stored_on_one_line(api, rita, request_in):
    req = request_in("sent_to_lender")
    today = timezone.localdate()
    response = api(rita).post(
        f"/api/v1/requests/{req.pk}/ship/",
        {
            "shipped_on": str(today),
            "due_date": str(today + dt.timedelta(days=28)),
            "method": "mail",
            "tracking_number": "1Z 999\nAA1",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    req.refresh_from_db()
    assert req.shipping_tracking == "1Z 999 AA1"


def test_a_nul_is_refused_at_both_doors_not_tidied(client, api, alice, patron):
    client.force_login(alice)
    page = client.post(
        "/requests/new/",
        {"card_number": patron.card_number, "format": "book", "title": "A\x00B", "max_cost": "1"},
    )
    assert page.status_code == 400
    assert "Null characters are not allowed" in page.content.decode()
    refused = api(alice).post(
        "/api/v1/requests/", {"title": "A\x00B", "patron": patron.pk}, format="json"
    )
    assert refused.status_code == 400 and "title" in refused.json()
    assert not BorrowingRequest.objects.exists()


def test_uniqueness_is_checked_on_the_tidy_value(library_one):
    """The code with a line break in it would be stored as one that exists already: it is
    refused as a duplicate, not saved into a database error."""
    twin = MemberLibrary(
        name="Twin",
        ill_code=library_one.ill_code + "\n",
        bpl_number="29990777",
        library_type="public",
        region="Northeast",
    )
    with pytest.raises(ValidationError) as refused:
        twin.full_clean()
    assert "ill_code" in refused.value.message_dict


def test_a_value_saved_past_the_forms_is_stored_tidy(submit):
    req = submit()
    req.shipping_tracking = "ab\ncd"
    req.save()
    req.refresh_from_db()
    assert req.shipping_tracking == "ab cd"


# --- E-mail -------------------------------------------------------------------------------


@pytest.fixture
def locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_a_line_break_stored_in_a_title_cannot_break_the_subject(submit, locmem_mail):
    req = submit()
    # As data stored before this rule, or written around the models, could hold it.
    BorrowingRequest.objects.filter(pk=req.pk).update(title="Broken\r\nBcc: x@example.org")
    notification = Notification.objects.get(request=req)
    assert tasks.send_notification.apply(args=[notification.pk]).get() == "sent"
    assert mail.outbox[0].subject == f"New request #{req.pk}: Broken Bcc: x@example.org"
    assert mail.outbox[0].bcc == []


def test_the_last_failed_attempt_is_logged_as_an_error(submit, locmem_mail, monkeypatch, caplog):
    notification = Notification.objects.get(request=submit())
    Notification.objects.filter(pk=notification.pk).update(attempts=notifications.MAX_ATTEMPTS - 1)

    def refused(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(notifications, "send_mail", refused)
    assert tasks.send_notification.apply(args=[notification.pk]).get() == "failed; given up"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "given up" in errors[0].getMessage()
