"""The limits on a request's data, as numbers: the workflow and the services check them
(``core.checks.Checks``), and the pages' forms and the API's serializers read them for
their ``maxlength`` and their schema, so no door takes more than another.

The rules that are more than a number (a shipment dated after the request went to that
lender, a receipt after the shipment, a renewal after the due date) are written where
each action is, in ``requests_app.workflow`` and ``requests_app.services``.
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError

#: What a required text says when it is left blank, at every door (the model's words).
BLANK = "This field cannot be blank."

#: The longest text each input takes, in characters.
NOTE = 1000
REASON = 300
CANCEL_REASON = 500
TRACKING_NUMBER = 100
ILL_NUMBER = 40
MESSAGE = 5000
NOTES_TO_TEAM = 2000
#: The most lenders a lender string holds (as OCLC WorldShare's).
LENDER_STRING = 5
LENDER_STRING_TOO_LONG = f"A lender string holds {LENDER_STRING} lenders at most."
#: The largest single charge: more is surely a typo (and would not fit a loan's total).
MAX_CHARGE = Decimal("100000")
#: The largest max cost a request can carry (eight digits with the cents).
MAX_COST = Decimal("999999.99")


def check_charge_amount(amount: Decimal | None) -> None:
    """A charge is 0 to ``MAX_CHARGE`` (more is surely a typo)."""
    if amount is not None and not 0 <= amount <= MAX_CHARGE:
        raise ValidationError(f"Enter an amount from 0 to {MAX_CHARGE:,}.", code="range")


def check_max_cost(max_cost: Decimal) -> None:
    """A max cost is 0 to ``MAX_COST``."""
    if not 0 <= max_cost <= MAX_COST:
        raise ValidationError(f"Enter an amount from 0 to {MAX_COST:,}.", code="range")


def not_arrived_days(method: str) -> int:
    """Days after shipping before a loan sent by ``method`` counts as not arrived: the job
    flags it then, and its library may report it (``ILLDESK_NOT_ARRIVED_DAYS``, by method;
    library mail can take two to three weeks where Delivery takes two)."""
    days: dict[str, int] = settings.ILLDESK_NOT_ARRIVED_DAYS
    return days.get(method, max(days.values()))


def not_arrived_from(shipped_on: dt.date | None, method: str) -> dt.date | None:
    """The first day a loan shipped on ``shipped_on`` by ``method`` counts as not arrived."""
    if shipped_on is None:
        return None
    return shipped_on + dt.timedelta(days=not_arrived_days(method))


def not_arrived_rule() -> str:
    """The rule in words: "14 days after shipping by Delivery, 21 by mail"."""
    from .models import ShippingMethod

    first, *others = ShippingMethod
    words = [f"{not_arrived_days(first)} days after shipping by {first.label}"]
    words += [f"{not_arrived_days(method)} by {method.label.lower()}" for method in others]
    return ", ".join(words)
