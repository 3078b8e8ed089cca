"""Every HTML form of the app, fuzzed with bad input (hypothesis; ``tests/bad_input.py``).

Each form is posted as someone allowed to use it, where the page offers it (a request's
actions on a request in a status that offers each), from what the page itself fills in,
with a few fields replaced by anything at all and, in most examples, one field given a
value it must refuse by what its HTML says it takes (a length, a date, a number, one of its
choices, something at all; never a NUL) and, on the app's own forms, a date ten years or
more away. Every example proves:

- no input is a server error;
- a refused value comes back as an error on its field, on the form shown again (not a
  redirect), and saves nothing: every row of every table a form can write is as it was;
- any other refusal saves nothing either, and says why;
- no page puts the input out unescaped: not the form shown again, nor the pages showing
  what a form saved, nor the pages reading a query string, whose bad values are named.

The forms come from the URL conf, ``page_actions.BY_SLUG`` and the admin's registry (its
add and change forms, and its lists' query strings; the lists' bulk-action buttons are
Django's own and left out): the first tests fail when a page, an action or an admin form
has no case here. Each example runs in a savepoint rolled back at its end, so each starts
from the same rows.
"""

import datetime as dt
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.tokens import default_token_generator
from django.db import connection, transaction
from django.test import RequestFactory
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from members.models import Region
from requests_app import services, workflow
from requests_app.models import BorrowingRequest, Status
from requests_app.web.actions import BY_SLUG
from requests_app.web.forms import FORMAT_CHOICES
from tests.bad_input import (
    UNESCAPED,
    anything,
    blank,
    far_from,
    longer_than,
    not_a_choice,
    not_a_date,
    not_a_number,
    not_an_email,
    with_nul,
)
from tests.conftest import PASSWORD
from tests.form_pages import (
    TEXT_TYPES,
    Control,
    HtmlForm,
    errors_for,
    every_error,
    form_on,
    forms_on,
    shown,
)

pytestmark = pytest.mark.django_db


def fuzz(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def refusals(control: Control, *, far_dates: bool) -> st.SearchStrategy[str] | None:
    """Values the control's field must refuse, by what its HTML says (and, with
    ``far_dates``, dates ten years or more from today); None when it takes anything."""
    if control.kind == "hidden" or control.name == "csrfmiddlewaretoken":
        return None
    if "__prefix__" in control.name:  # the admin's template for one more inline row
        return None
    refused = []
    if control.kind in TEXT_TYPES:
        refused.append(with_nul())
    if control.maxlength is not None and control.kind != "password":
        refused.append(longer_than(control.maxlength))
    if "required" in control.attrs:  # a password keeps its spaces: only nothing is blank
        refused.append(st.just("") if control.kind == "password" else blank())
    if control.kind == "email":
        refused.append(not_an_email())
    if control.is_date:
        refused.append(not_a_date())
        if far_dates:
            refused.append(far_from(timezone.localdate(), years=10))
    if control.kind == "number":
        attrs = control.attrs
        refused.append(
            not_a_number(minimum=attrs.get("min"), maximum=attrs.get("max"), step=attrs.get("step"))
        )
    if control.kind in ("select", "radio") or control.choices - {"", "on"}:
        refused.append(not_a_choice(control.choices))  # a checkbox's too, unless a yes/no
    return st.one_of(refused) if refused else None


def _refusable(form: HtmlForm, *, far_dates: bool, leaving: tuple[str, ...] = ()) -> dict:
    found = {
        name: refusals(control, far_dates=far_dates) for name, control in form.controls.items()
    }
    return {
        name: values for name, values in found.items() if values is not None and name not in leaving
    }


def _one_of_or_none(names) -> st.SearchStrategy[str | None]:
    return st.none() | st.sampled_from(sorted(names)) if names else st.none()


def unescaped_markup(response) -> list[str]:
    """The markup pieces the response body carries unescaped (HTML and SVG only)."""
    if not response.get("Content-Type", "").startswith(("text/html", "image/svg")):
        return []
    body = response.content.decode(errors="replace")
    return [piece for piece in UNESCAPED if piece in body]


# --- Every row, to prove nothing was saved ----------------------------------------------

#: Apps whose rows a form can write (permissions are fixed; sessions change on every
#: request, by design).
WATCHED_APPS = {
    "members",
    "lenders",
    "requests_app",
    "auth",
    "otp_totp",
    "axes",
    "admin",
}


def every_row(but: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    """Every row of every table a form can write, ``but`` some (raw SQL: the ORM takes
    longer)."""
    tables = sorted(
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label in WATCHED_APPS and model is not Permission
    )
    with connection.cursor() as cursor:
        rows = {}
        for table in (table for table in tables if table not in but):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)} ORDER BY 1")  # noqa: S608
            rows[table] = cursor.fetchall()
    return rows


@contextmanager
def rolled_back() -> Iterator[None]:
    """A savepoint undone at the end, so every example starts from the same rows."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


# --- The world the forms act on -----------------------------------------------------------


@dataclass
class World:
    alice: object  # staff of the first library
    rita: object  # the team
    admin: object
    patron: object
    lender: object
    library: object
    drive: Callable[[str], object]  # conftest's request_in
    requests: dict = field(default_factory=dict)
    rows: dict = field(default_factory=dict)  # the rows admin change forms edit

    def request(self, status: str):
        """A request in ``status``, made once per test; or in one of ``PREPARED``'s
        states, for an action that needs more than a status."""
        if status not in self.requests:
            if status in PREPARED:
                self.requests[status] = PREPARED[status](self)
            else:
                self.requests[status] = self.drive(status)
        return self.requests[status]

    def user(self, who: str | None):
        return getattr(self, who) if who else None


@pytest.fixture
def world(alice, rita, admin_user, patron, lender, library_one, request_in) -> World:
    return World(alice, rita, admin_user, patron, lender, library_one, request_in)


def _flagged(world: "World"):
    req = world.drive("shipped", shipped_days_ago=20)
    BorrowingRequest.objects.filter(pk=req.pk).update(not_arrived_flagged_at=timezone.now())
    req.refresh_from_db()
    return req


def _charged(world: "World"):
    req = world.drive("shipped")
    services.add_charge(req.pk, actor=world.rita, kind="lending_fee", amount=Decimal("10"))
    return req


def _exchange_failing(world: "World"):
    """Sent to a lender that exchanges ISO 18626 messages, the request message not
    delivered and the request flagged."""
    from requests_app.iso18626.outbox import flag_failing
    from requests_app.models import ExchangeMessage
    from tests.iso18626 import partner

    req = world.drive("sourcing")
    workflow.send_to_lender(req.pk, actor=world.rita, lender=partner())
    ExchangeMessage.objects.filter(request=req).update(state="failed")
    flag_failing(req.pk, "Request to the lender: not delivered")
    req.refresh_from_db()
    return req


#: States an action needs beyond a status, and how to make a request in one.
PREPARED: dict[str, Callable[["World"], object]] = {
    "shipped 20 days ago": lambda world: world.drive("shipped", shipped_days_ago=20),
    "flagged not arrived": _flagged,
    "with a charge": _charged,
    "exchange failing": _exchange_failing,
}
#: The actions that need one of them.
ACTION_STATE = {
    "not-arrived": "shipped 20 days ago",
    "replacement-shipped": "flagged not arrived",
    "cleared": "flagged not arrived",
    "void-charge": "with a charge",
    "charge-invoiced": "with a charge",
    "charge-paid": "with a charge",
    "message-lender": "exchange failing",
    "send-again": "exchange failing",
    "clear-exchange": "exchange failing",
}


def _unrequested(world: "World"):
    """An item the first library received unasked, reported once per test."""
    if "unrequested" not in world.rows:
        world.rows["unrequested"] = services.report_unrequested_item(
            actor=world.alice, title="A book nobody asked for", slip_number="ILL-998"
        )
    return world.rows["unrequested"]


def _today(days: int = 0) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


def _days_after(day: dt.date, days: int) -> str:
    return (day + dt.timedelta(days=days)).isoformat()


# --- The forms that write, and what each needs to go through ------------------------------


@dataclass(frozen=True)
class PostCase:
    """A form that writes: who posts it, the page showing it, the values it needs to pass
    (over what the page fills in; read first, so they may make the rows the page lists)."""

    id: str
    url_name: str
    who: str | None
    page: Callable[[World], str]
    valid: Callable[[World], dict] = lambda world: {}
    #: Where it posts, when not to the page itself.
    action: Callable[[World], str] | None = None
    #: Pages that show what it saves, read after each accepted example.
    shown_on: Callable[[World], list[str]] = lambda world: []
    #: The app answers a refused form 400; the admin and Django's account views 200; the
    #: queue's bulk form goes back to the queue (302) with its errors as messages.
    refused_status: int = 400
    #: The app's own rules: every text field has a length limit, and every date is within
    #: ten years of today (``core.checks.near_today``). The admin and the account forms
    #: keep Django's.
    app_rules: bool = True
    #: Tables a refusal writes on purpose: the count of failed attempts.
    counts_failures: tuple[str, ...] = ()
    #: Fields left alone, each for a known bug that a plain test below pins.
    not_fuzzed: tuple[str, ...] = ()
    examples: int = 6


def _action_actor_and_status(slug: str) -> tuple[str, str]:
    """Who may take the action (the library when both may) and the first status offering it."""
    action = BY_SLUG[slug]
    if action.move is None:
        return ("rita" if action.team_only else "alice"), ACTION_STATE.get(slug, Status.SOURCING)
    move = workflow.MOVES[action.move]
    if slug in ACTION_STATE:
        return ("alice" if workflow.LIBRARY in move.sides else "rita"), ACTION_STATE[slug]
    who = "alice" if workflow.LIBRARY in move.sides else "rita"
    return who, next(status for status in Status.values if status in move.sources)


#: What each action on a request's page needs to go through, from the request it acts on.
ACTION_INPUT: dict[str, Callable[[World, BorrowingRequest], dict]] = {
    "receive": lambda world, req: {"received_on": _today()},
    "return": lambda world, req: {"method": "delivery", "tracking_number": ""},
    "request-renewal": lambda world, req: {"due_date": _days_after(req.due_date, 14)},
    "withdraw-renewal": lambda world, req: {"note": "The patron finished early."},
    "not-arrived": lambda world, req: {"note": "Not here yet."},
    "start-sourcing": lambda world, req: {"note": ""},
    "send-to-lender": lambda world, req: {
        "lender": str(world.lender.pk),
        "lender_request_number": "ILL-1",
    },
    "lender-string": lambda world, req: {"lender_1": str(world.lender.pk), "note": ""},
    "ship": lambda world, req: {
        "shipped_on": _today(),
        "due_date": _today(28),
        "method": "delivery",
        "tracking_number": "",
    },
    "lender-unfilled": lambda world, req: {"reason": "Not owned."},
    "answer-renewal": lambda world, req: {
        "approved": "yes",
        "due_date": _days_after(req.due_date, 30),
        "note": "",
    },
    "complete": lambda world, req: {"note": ""},
    "mark-unfilled": lambda world, req: {"reason": "No lender owns it."},
    "mark-lost": lambda world, req: {"note": "Lost in transit."},
    "cancel": lambda world, req: {"reason": "No longer needed."},
    "add-charge": lambda world, req: {
        "kind": "lending_fee",
        "amount": "5.00",
        "payer": "service",
        "reference": "",
    },
    "max-cost": lambda world, req: {"max_cost": "40.00", "reason": "The library agreed."},
    "assign": lambda world, req: {"assignee": str(world.rita.pk)},
    "message": lambda world, req: {"body": "Is it on its way?"},
    "message-lender": lambda world, req: {"body": "Is it on its way?"},
    "send-again": lambda world, req: {"message": str(req.exchange.get(state="failed").pk)},
    "clear-exchange": lambda world, req: {"note": "Phoned the lender."},
    "request-again": lambda world, req: {},
    "trace": lambda world, req: {"note": "Called the lender: it left on the 2nd."},
    "replacement-shipped": lambda world, req: {
        "shipped_on": _today(),
        "due_date": _today(28),
        "method": "mail",
        "tracking_number": "9400100",
        "note": "",
    },
    "cleared": lambda world, req: {"received_on": _today(), "note": "Found at the desk."},
    "edit-item": lambda world, req: {"format": "book", "title": "A corrected title"},
    "correct-shipment": lambda world, req: {
        "shipped_on": req.shipped_on.isoformat(),
        "due_date": _days_after(req.shipped_on, 35),
        "method": "mail",
        "tracking_number": "9400200",
        "lender_request_number": "ILL-2",
        "note": "",
    },
    "correct-receipt": lambda world, req: {"received_on": req.shipped_on.isoformat(), "note": ""},
    "correct-return": lambda world, req: {
        "returned_on": _today(),
        "method": "delivery",
        "tracking_number": "",
        "note": "",
    },
    "reopen": lambda world, req: {"reason": "Marked received on the wrong request."},
    "void-charge": lambda world, req: {
        "charge": str(req.charges.get().pk),
        "reason": "Typed 1e3.",
    },
    "charge-invoiced": lambda world, req: {"charge": str(req.charges.get().pk), "invoiced_on": ""},
    "charge-paid": lambda world, req: {"charge": str(req.charges.get().pk), "paid_on": ""},
}


def _action_case(slug: str) -> PostCase:
    who, status = _action_actor_and_status(slug)
    # The lender picker shows the send form for the lenders a search finds.
    search = "?lender_q=CVC" if slug == "send-to-lender" else ""

    def valid(world: World) -> dict:
        req = world.request(status)
        values = {f"{slug}-{name}": value for name, value in ACTION_INPUT[slug](world, req).items()}
        if BY_SLUG[slug].confirm:
            values["confirmed"] = "yes"  # the second step: asked, and confirmed
        return values

    def detail(world: World) -> str:
        return reverse("request_detail", args=[world.request(status).pk])

    return PostCase(
        f"request action {slug} ({who}, {status})",
        "request_action",
        who,
        page=lambda world: detail(world) + search,
        valid=valid,
        action=lambda world: (
            reverse("request_action", args=[world.request(status).pk, slug]) + search
        ),
        shown_on=lambda world: [detail(world)],
    )


def _new_request(world: World) -> dict:
    return {
        "card_number": st.sampled_from([world.patron.card_number, "NEW-CARD-1"]),
        "patron_name": "New Patron",
        "format": st.sampled_from([value for value, _label in FORMAT_CHOICES]),
        "title": "A valid title",
        "max_cost": "10.00",
    }


APP_POST_CASES = [
    PostCase(
        "new request",
        "request_new",
        "alice",
        page=lambda world: reverse("request_new"),
        valid=_new_request,
        shown_on=lambda world: [reverse("request_list"), reverse("home")],
        examples=15,
    ),
    *(_action_case(slug) for slug in BY_SLUG),
    PostCase(
        "queue bulk action",
        "queue_bulk",
        "rita",
        page=lambda world: reverse("queue"),
        valid=lambda world: {"ids": str(world.request(Status.SUBMITTED).pk), "action": "take"},
        action=lambda world: reverse("queue_bulk"),
        refused_status=302,
    ),
    PostCase(
        "invite a colleague",
        "staff_invite",
        "rita",
        page=lambda world: reverse("library_staff", args=[world.library.pk]),
        valid=lambda world: {
            "first_name": "New",
            "last_name": "Colleague",
            "email": st.integers(0, 10**9).map(lambda n: f"new{n}@example.org"),
        },
        action=lambda world: reverse("staff_invite", args=[world.library.pk]),
        shown_on=lambda world: [reverse("library_staff", args=[world.library.pk])],
    ),
    PostCase(
        "unrequested item",
        "unrequested_item_new",
        "alice",
        page=lambda world: reverse("unrequested_item_new"),
        valid=lambda world: {"title": "A book we never asked for"},
        shown_on=lambda world: [reverse("unrequested_item_list")],
    ),
    PostCase(
        "unrequested item resolved",
        "unrequested_item_detail",
        "rita",
        page=lambda world: reverse("unrequested_item_detail", args=[_unrequested(world).pk]),
        valid=lambda world: {
            "resolve-outcome": st.sampled_from(["matched", "sent_on", "returned_to_lender"]),
            "resolve-request": str(world.request(Status.SHIPPED).pk),
            "resolve-send_to": world.library.ill_code,
            "resolve-returned_to": world.lender.oclc_symbol,
            "resolve-note": "Send it on by Delivery.",
        },
        shown_on=lambda world: [reverse("unrequested_item_list")],
    ),
    PostCase(
        "library profile",
        "library_edit",
        "admin",
        page=lambda world: reverse("library_edit", args=[world.library.pk]),
        shown_on=lambda world: [
            reverse("library_detail", args=[world.library.pk]),
            reverse("library_list"),
        ],
        examples=8,
    ),
    PostCase(
        "lender availability report",
        "lender_availability_new",
        "rita",
        page=lambda world: reverse("lender_detail", args=[world.lender.pk]),
        action=lambda world: reverse("lender_availability_new", args=[world.lender.pk]),
        shown_on=lambda world: [reverse("lender_list")],
    ),
]

NEW_PASSWORD = "a-new-pw-8461!x"


def _reset_link(world: World) -> str:
    """The link a reset e-mail carries; it sends on to the form, which keeps the token."""
    uid = urlsafe_base64_encode(force_bytes(world.alice.pk))
    token = default_token_generator.make_token(world.alice)
    return reverse("password_reset_confirm", args=[uid, token])


def _welcome_link(world: World) -> str:
    """The link an invitation carries (``members.invitations``)."""
    from members.invitations import invitation_tokens

    uid = urlsafe_base64_encode(force_bytes(world.alice.pk))
    return reverse("welcome", args=[uid, invitation_tokens.make_token(world.alice)])


def _account_case(id: str, url_name: str, who: str | None, valid, **more) -> PostCase:
    return PostCase(
        id,
        url_name,
        who,
        page=more.pop("page", lambda world: reverse(url_name)),
        valid=valid,
        refused_status=200,
        app_rules=False,
        examples=4,
        **more,
    )


ACCOUNT_POST_CASES = [
    _account_case(
        "log in",
        "login",
        None,
        lambda world: {"username": "alice", "password": PASSWORD},
        counts_failures=("axes_accessattempt", "members_failedsignins"),
    ),
    _account_case(
        "two-factor code",
        "two_factor",
        "alice",
        lambda world: {"token": "123456"},
        counts_failures=("otp_totp_totpdevice",),  # django-otp throttles wrong codes
    ),
    _account_case(
        "API token",
        "api_tokens",
        "alice",
        lambda world: {"name": "Nightly report", "days": "30"},
    ),
    _account_case(
        "password change",
        "password_change",
        "alice",
        lambda world: {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    ),
    _account_case(
        "password reset", "password_reset", None, lambda world: {"email": world.alice.email}
    ),
    _account_case(
        "password reset, new password",
        "password_reset_confirm",
        None,
        lambda world: {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        page=_reset_link,
    ),
    _account_case(
        "invitation, first password",
        "welcome",
        None,
        lambda world: {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        page=_welcome_link,
    ),
]


# --- The admin's forms -------------------------------------------------------------------

#: What each admin add form needs to go through, by model.
ADMIN_ADD_INPUT: dict[str, Callable[[World], dict]] = {
    "auth.Group": lambda world: {"name": "Fuzzers"},
    "otp_totp.TOTPDevice": lambda world: {"user": str(world.rita.pk), "name": "Phone"},
    "members.MemberLibrary": lambda world: {
        "name": "Carver Public Library",
        "ill_code": "CARVER",
        "bpl_number": "29990009",
        "library_type": "public",
        "region": "Northeast",
        "max_cost": "0.00",
    },
    "members.Region": lambda world: {"name": "Cape and Islands"},
    "members.Patron": lambda world: {
        "library": str(world.library.pk),
        "card_number": "21234000999",
        "name": "Pat Newcomer",
    },
    "members.User": lambda world: {
        "username": "newcomer",
        "usable_password": "true",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        "role": "team",
    },
    "lenders.Lender": lambda world: {"name": "Dover Free Library", "kind": "in_state"},
    "lenders.AvailabilityReport": lambda world: {"lender": str(world.lender.pk)},
}


def _failed_login(label: str) -> Callable[[World], object]:
    """A row of one of django-axes' logs of logins."""

    def make(world: World):
        model = apps.get_model(label)
        columns = {column.name for column in model._meta.fields}
        values = {
            "username": "alice",
            "ip_address": "127.0.0.1",
            "user_agent": "fuzz",
            "http_accept": "*/*",
            "path_info": "/accounts/login/",
            "get_data": "",
            "post_data": "",
            "failures_since_start": 1,
        }
        return model.objects.create(**{k: v for k, v in values.items() if k in columns})

    return make


#: The row each admin change form edits, by model.
ADMIN_CHANGE_ROW: dict[str, Callable[[World], object]] = {
    "auth.Group": lambda world: Group.objects.create(name="Fuzzers"),
    "axes.AccessAttempt": _failed_login("axes.AccessAttempt"),
    "axes.AccessLog": _failed_login("axes.AccessLog"),
    "axes.AccessFailureLog": _failed_login("axes.AccessFailureLog"),
    "otp_totp.TOTPDevice": lambda world: TOTPDevice.objects.create(user=world.alice, name="Phone"),
    "members.MemberLibrary": lambda world: world.library,
    "members.Region": lambda world: Region.objects.create(name="Cape and Islands"),
    "members.Patron": lambda world: world.patron,
    "members.User": lambda world: world.alice,
    "lenders.Lender": lambda world: world.lender,
    "requests_app.BorrowingRequest": lambda world: world.request(Status.SOURCING),
}


def _admin_url(label: str, view: str, *args) -> str:
    model = apps.get_model(label)
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _admin_case(label: str, view: str) -> PostCase:
    def page(world: World) -> str:
        if view == "add":
            return _admin_url(label, "add")
        if label not in world.rows:
            world.rows[label] = ADMIN_CHANGE_ROW[label](world)
        return _admin_url(label, "change", world.rows[label].pk)

    return PostCase(
        f"admin {view} {label}",
        "admin",
        "admin",
        page=page,
        valid=ADMIN_ADD_INPUT[label] if view == "add" else lambda world: {},
        shown_on=lambda world: [_admin_url(label, "changelist")],
        refused_status=200,
        app_rules=False,
        examples=2,
    )


ADMIN_POST_CASES = [
    *(_admin_case(label, "add") for label in ADMIN_ADD_INPUT),
    *(_admin_case(label, "change") for label in ADMIN_CHANGE_ROW),
]

POST_CASES = APP_POST_CASES + ACCOUNT_POST_CASES + ADMIN_POST_CASES


# --- Query strings -------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryCase:
    """A page that reads its query string: its GET form's parameters, and others."""

    id: str
    url_name: str
    who: str | None
    page: Callable[[World], str]
    #: Parameters it reads that its form does not show: paging, a CSV's table.
    extra: tuple[str, ...] = ()
    #: Whether a refused parameter comes back as an error on its field (400).
    named_errors: bool = True
    examples: int = 6


PAGING = ("page", "page_size")
#: OpenURL 1.0 keys, then the 0.1 ones (``requests_app/openurl.py`` reads these).
OPENURL_KEYS = (
    "url_ver", "rft_val_fmt", "rft.genre", "rft.btitle", "rft.title", "rft.atitle",
    "rft.jtitle", "rft.au", "rft.aulast", "rft.aufirst", "rft.aucorp", "rft.isbn", "rft.issn",
    "rft.eissn", "rft.date", "rft.pub", "rft.place", "rft.edition", "rft.volume", "rft.part",
    "rft.issue", "rft.language", "rft.oclcnum", "rft.type", "rft.format", "rft_id", "rfr_id",
    "sid", "genre", "title", "atitle", "aulast", "aufirst", "isbn", "issn", "date", "pub",
    "id", "pid",
)  # fmt: skip

QUERY_CASES = [
    QueryCase(
        "queue filters", "queue", "rita", lambda world: reverse("queue"), ("status", *PAGING)
    ),
    QueryCase(
        "request list filters",
        "request_list",
        "alice",
        lambda world: reverse("request_list"),
        ("status", *PAGING),
    ),
    QueryCase(
        "library search", "library_list", "rita", lambda world: reverse("library_list"), PAGING
    ),
    QueryCase("lender search", "lender_list", "rita", lambda world: reverse("lender_list"), PAGING),
    QueryCase(
        "export, one library",
        "export",
        "rita",
        lambda world: reverse("export"),
        named_errors=False,  # an unknown code is a 404 that says so
    ),
    QueryCase(
        "lender picker on a request",
        "request_detail",
        "rita",
        lambda world: reverse("request_detail", args=[world.request(Status.SOURCING).pk]),
    ),
    QueryCase(
        "lender history paging",
        "lender_detail",
        "rita",
        lambda world: reverse("lender_detail", args=[world.lender.pk]),
        PAGING,
    ),
    QueryCase(
        "unrequested items paging",
        "unrequested_item_list",
        "alice",
        lambda world: reverse("unrequested_item_list"),
        PAGING,
    ),
    QueryCase("report period", "reports", "alice", lambda world: reverse("reports")),
    QueryCase(
        "report period and library",
        "report",
        "rita",
        lambda world: reverse("report", args=["requests"]),
        ("format", "table", "overall-page", "by-library-page"),
    ),
    QueryCase(
        "report chart",
        "report_chart",
        "rita",
        lambda world: reverse("report_chart", args=["turnaround"]),
        ("start", "end", "library"),
        named_errors=False,  # an image: a bad period is a plain-text 400
    ),
    QueryCase(
        "new request from an OpenURL",
        "request_new",
        "alice",
        lambda world: reverse("request_new"),
        OPENURL_KEYS,
        named_errors=False,  # it only fills the form in: the person checks and submits
        examples=10,
    ),
    *(
        QueryCase(
            f"admin list {model._meta.label}",
            "admin",
            "admin",
            lambda world, label=model._meta.label: _admin_url(label, "changelist"),
            ("q", "o", "p", "all"),
            named_errors=False,  # the admin sends a bad filter to "?e=1", a NUL to a 400
            examples=2,
        )
        for model in admin.site._registry
    ),
]


# --- Every form has a case -----------------------------------------------------------------

#: Pages that read no input, and why.
NO_INPUT = {
    "home": "the dashboard reads no parameters",
    "library_detail": "a profile and its newest changes, no parameters",
    "lender_slip": "a request's slip to print, no parameters",
    "logout": "a button: its form has no fields",
    "revoke_api_token": "a button: its form has no fields",
    "export_file": "a file to download; its one parameter is the export page's (fuzzed there)",
    "library_staff": "a library's staff; its invitation form is fuzzed as staff_invite",
    "staff_invite_again": "a button: its form has no fields",
    "staff_deactivate": "a button: its form has no fields",
    "healthz": "for the load balancer",
    "iso18626": "lenders' ISO 18626 messages, fuzzed in test_iso18626_fuzz.py",
    "password_change_done": "a message",
    "password_reset_done": "a message",
    "password_reset_complete": "a message",
}


def page_routes(patterns=None, prefix: str = "") -> dict[str, str]:
    """Every URL pattern outside the API (``test_api_fuzz.py`` fuzzes it from its schema)
    and the admin (its forms are found from its registry): name -> route."""
    routes = {}
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if route.startswith(("api/", "admin/")):
            continue
        if isinstance(pattern, URLResolver):
            routes |= page_routes(pattern.url_patterns, route)
        else:
            routes[pattern.name or route] = route
    return routes


def test_every_page_has_a_fuzz_case():
    covered = {case.url_name for case in POST_CASES + QUERY_CASES} | set(NO_INPUT)
    missing = {name: route for name, route in page_routes().items() if name not in covered}
    assert not missing, f"pages without a fuzz case: {missing}"


def test_every_action_on_a_request_has_a_fuzz_case():
    assert set(ACTION_INPUT) == set(BY_SLUG)


def test_every_admin_form_has_a_fuzz_case(admin_user):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    offered = set()
    for model, model_admin in admin.site._registry.items():
        if model_admin.has_add_permission(request):
            offered.add(f"admin add {model._meta.label}")
        if model_admin.has_change_permission(request):
            offered.add(f"admin change {model._meta.label}")
    assert {case.id for case in ADMIN_POST_CASES} == offered


# --- Posting bad input -----------------------------------------------------------------------


def _open(case: PostCase, world: World, client) -> tuple[dict, str, HtmlForm]:
    """Log in as the case's user and read its form: the values it needs to pass (read
    first: they may make the rows the page lists), the page's path and the form."""
    valid = case.valid(world)
    who = world.user(case.who)
    if who is not None:
        client.force_login(who)
    response = client.get(case.page(world), follow=True)
    page_path = response.request["PATH_INFO"]
    action = urlsplit(case.action(world)).path if case.action else page_path
    return valid, page_path, form_on(response, page_path, action)


def _session_of(client) -> str | None:
    cookie = client.cookies.get(django_settings.SESSION_COOKIE_NAME)
    return cookie.value if cookie else None


def _draw_valid(data, valid: dict) -> dict:
    return {
        name: data.draw(value, label=name) if isinstance(value, st.SearchStrategy) else value
        for name, value in valid.items()
    }


@pytest.mark.parametrize("case", POST_CASES, ids=lambda case: case.id)
def test_bad_input_is_refused_on_its_field_and_saves_nothing(case, world, client):
    valid, page_path, form = _open(case, world, client)
    if case.app_rules:
        unlimited = [
            name
            for name, control in form.controls.items()
            if control.kind in TEXT_TYPES and control.maxlength is None
        ]
        assert not unlimited, f"no length limit on {unlimited}"
    action = case.action(world) if case.action else page_path
    refusable = _refusable(form, far_dates=case.app_rules, leaving=case.not_fuzzed)
    names = sorted({*form.controls, *valid, "unexpected"} - {"csrfmiddlewaretoken"})
    names = [name for name in names if name not in case.not_fuzzed]
    who = world.user(case.who)
    session = _session_of(client)

    @fuzz(case.examples)
    @given(data=st.data())
    def example(data):
        values = form.as_submitted() | _draw_valid(data, valid)
        for name in data.draw(st.lists(st.sampled_from(names), max_size=2, unique=True)):
            values[name] = data.draw(anything(), label=name)
        refused = data.draw(_one_of_or_none(refusable), label="refused")
        if refused is not None:
            values[refused] = data.draw(refusable[refused], label=refused)
        with rolled_back():
            if who is not None and _session_of(client) != session:
                client.force_login(who)  # the example before changed the password
            before = every_row(but=case.counts_failures)
            response = client.post(action, values)
            assert response.status_code < 500
            assert not unescaped_markup(response)
            if case.refused_status == 302:
                _check_sent_back(client, response, refused, before)
            elif _asks_to_confirm(response):
                # An ending not confirmed: it is only asked about, and nothing is saved.
                assert refused is None, f"{refused!r} was not refused"
                assert every_row(but=case.counts_failures) == before
            elif response.status_code in (201, 302) and refused is None:
                # 201: the answer is the page itself (a new API token is shown only there).
                _check_accepted(client, case, world, response)
            else:
                _check_refused(case, response, urlsplit(action).path, refused, before)

    example()


def _asks_to_confirm(response) -> bool:
    return response.status_code == 200 and any(
        template.name == "requests_app/confirm.html" for template in response.templates
    )


def _check_accepted(client, case: PostCase, world: World, response) -> None:
    made_here = [response["Location"]] if response.status_code == 302 else []
    for url in [*made_here, *case.shown_on(world)]:
        page = client.get(url)
        assert page.status_code < 500, url
        assert not unescaped_markup(page), url


def _check_refused(case: PostCase, response, path: str, refused: str | None, before) -> None:
    assert response.status_code == case.refused_status, (
        f"{refused!r} was not refused" if refused else response.status_code
    )
    assert every_row(but=case.counts_failures) == before, "a refused form saved something"
    again = form_on(response, path, path)
    if refused is None:
        assert shown(response, every_error(response)), "refused without saying why"
        return
    assert refused in again.controls, f"{refused} is not on the form shown again"
    errors = errors_for(response, refused)
    assert errors, f"{refused} refused without an error on it"
    assert shown(response, errors), f"the error on {refused} is not on the page"


def _check_sent_back(client, response, refused: str | None, before) -> None:
    """The queue's bulk form: back to the queue, its errors as messages there."""
    assert response.status_code == 302
    if refused is not None:
        assert every_row() == before, "a refused form saved something"
    queue = client.get(response["Location"])
    assert queue.status_code < 500
    assert not unescaped_markup(queue)
    errors = [str(message) for message in queue.context["messages"] if message.level_tag == "error"]
    if refused is not None:
        assert shown(queue, errors), f"{refused} refused without saying why"


# --- Reading bad query strings -------------------------------------------------------------


def _names_in_links(response) -> set[str]:
    """The parameters the page's own links set (the admin's filters, sorting, paging)."""
    found = set()
    for query in re.findall(r'href="\?([^"#]*)"', response.content.decode()):
        found |= {name for name, _value in parse_qsl(unescape(query), keep_blank_values=True)}
    return found


@pytest.mark.parametrize("case", QUERY_CASES, ids=lambda case: case.id)
def test_bad_query_strings_are_answered_escaped_and_named(case, world, client):
    who = world.user(case.who)
    if who is not None:
        client.force_login(who)
    page = case.page(world)
    path = urlsplit(page).path
    first = client.get(page)
    assert first.status_code == 200
    controls = {
        name: control
        for form in forms_on(first, path)
        if form.method == "get" and form.action == path
        for name, control in form.controls.items()
    }
    refusable = _refusable(HtmlForm("get", path, controls), far_dates=False)
    names = sorted({*controls, *case.extra, *_names_in_links(first)})

    @fuzz(case.examples)
    @given(data=st.data())
    def example(data):
        values = {}
        for name in data.draw(
            st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)
        ):
            values[name] = data.draw(anything(), label=name)
        refused = data.draw(
            _one_of_or_none(refusable if case.named_errors else {}), label="refused"
        )
        if refused is not None:
            values[refused] = data.draw(refusable[refused], label=refused)
        with rolled_back():
            response = client.get(path, values)
            assert response.status_code < 500
            assert not unescaped_markup(response)
            if refused is not None:
                assert response.status_code == 400, f"{refused!r} was not refused"
                errors = errors_for(response, refused)
                assert errors, f"{refused} refused without an error on it"
                assert shown(response, errors), f"the error on {refused} is not on the page"
            elif response.status_code == 400 and case.named_errors:
                assert shown(response, every_error(response)), "refused without saying why"
            if case.url_name == "request_new":
                _check_prefilled(response)

    example()


def _check_prefilled(response) -> None:
    """An OpenURL only fills the form in: each value within its field's length, on one
    line, with no control characters."""
    assert response.status_code == 200
    path = response.request["PATH_INFO"]
    for name, control in form_on(response, path, path).controls.items():
        for value in control.values:
            if control.maxlength is not None:
                assert len(value) <= control.maxlength, name
            assert not re.search(r"[\x00-\x1f\x7f]", value), name


# --- What the fuzz found ---------------------------------------------------------------------


@pytest.mark.parametrize("search", ["CVC\x00", "x" * 101])
def test_a_lender_search_no_lender_could_match_is_named_on_the_page(
    client, rita, request_in, search
):
    """A NUL reached PostgreSQL (a 500) and a long search was cut without a word."""
    req = request_in("sourcing")
    client.force_login(rita)
    page = client.get(reverse("request_detail", args=[req.pk]), {"lender_q": search})
    assert page.status_code == 400
    assert page.context["lender_search"].errors["lender_q"]
    assert 'id="id_lender_q_error"' in page.content.decode()


def test_a_refused_send_to_lender_shows_the_lenders_found_again(client, rita, request_in, lender):
    """It showed the error with no form to correct it: the search was lost."""
    req = request_in("sourcing")
    client.force_login(rita)
    page = client.post(
        reverse("request_action", args=[req.pk, "send-to-lender"]) + "?lender_q=CVC",
        {"send-to-lender-lender": lender.pk, "send-to-lender-lender_request_number": "x" * 41},
    )
    assert page.status_code == 400
    html = page.content.decode()
    assert "at most 40 characters" in html
    assert f'name="send-to-lender-lender" value="{lender.pk}"' in html
    req.refresh_from_db()
    assert req.status == "sourcing"


def test_a_refused_assignment_says_why_beside_the_field(client, rita, request_in):
    """The assignee's error was nowhere on the page."""
    req = request_in("sourcing")
    client.force_login(rita)
    page = client.post(reverse("request_action", args=[req.pk, "assign"]), {"assign-assignee": "x"})
    assert page.status_code == 400
    assert 'id="id_assign-assignee_error"' in page.content.decode()
    req.refresh_from_db()
    assert req.assigned_to == rita


def test_free_text_has_a_length_limit(client, world):
    """These had none: a paste of any size was kept."""
    edit = reverse("library_edit", args=[world.library.pk])
    client.force_login(world.admin)
    profile = form_on(client.get(edit), edit, edit).as_submitted()
    availability = reverse("lender_availability_new", args=[world.lender.pk])
    too_long = [
        (world.alice, reverse("unrequested_item_new"), {"title": "A", "note": "x" * 1001}),
        (
            world.rita,
            availability,
            {"lending": "yes", "accepting_returns": "yes", "note": "x" * 1001},
        ),
        (world.admin, edit, profile | {"address": "x" * 501}),
        (world.admin, edit, profile | {"notes": "x" * 2001}),
    ]
    for who, url, values in too_long:
        client.force_login(who)
        before = every_row()
        response = client.post(url, values)
        assert response.status_code == 400, url
        assert "Ensure this value has at most" in response.content.decode()
        assert every_row() == before


@pytest.mark.parametrize("day", ["0001-01-01", "0224-05-17", "2204-05-17", "9999-12-31"])
def test_a_date_ten_years_away_is_refused(client, rita, request_in, day):
    """Year 1 and year 9999 were kept as a loan's due date."""
    req = request_in("sent_to_lender")
    client.force_login(rita)
    page = client.post(
        reverse("request_action", args=[req.pk, "ship"]),
        {"ship-shipped_on": _today(), "ship-due_date": day, "ship-method": "delivery"},
    )
    assert page.status_code == 400
    assert "Enter a date from" in str(page.context["actions"][0][1].errors["due_date"])
    req.refresh_from_db()
    assert req.status == "sent_to_lender"


def test_a_needed_by_date_ten_years_ahead_is_refused(client, alice, patron):
    """Year 9999 was kept as the date a patron needs the item by."""
    client.force_login(alice)
    page = client.post(
        reverse("request_new"),
        {"card_number": patron.card_number, "format": "book", "title": "A", "max_cost": "1"}
        | {"needed_by": "9999-12-31"},
    )
    assert page.status_code == 400
    assert "Enter a date from" in str(page.context["form"].errors["needed_by"])
    assert not BorrowingRequest.objects.exists()


def test_a_nul_in_an_admin_list_query_is_a_bad_request(client, admin_user, request_in):
    """The lists' filters handed a NUL to PostgreSQL: a 500."""
    request_in("shipped")
    client.force_login(admin_user)
    for model in admin.site._registry:
        url = _admin_url(model._meta.label, "changelist")
        for query in ({"q": "\x00"}, {"status__exact": "\x00"}, {"kind": "a\x00"}):
            assert client.get(url, query).status_code == 400, (url, query)


def test_a_username_too_long_is_refused_on_its_field(client, alice):
    """Over 255 characters, django-axes' varchar(255) raised DataError on PostgreSQL."""
    page = client.post(reverse("login"), {"username": "a" * 300, "password": PASSWORD})
    assert page.status_code == 200
    assert page.context["form"].errors["username"]
