"""The limits on a request's data, as numbers: the workflow and the services check them
(``core.checks.Checks``), and the pages' forms and the API's serializers read them for
their ``maxlength`` and their schema, so no door takes more than another.

The rules that are more than a number (a shipment dated after the request went to that
lender, a receipt after the shipment, a renewal after the due date) are written where
each action is, in ``requests_app.workflow`` and ``requests_app.services``.
"""

from decimal import Decimal

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
