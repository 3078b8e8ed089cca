"""Checks on input, for the domain's functions to run whichever door the input came by.

A workflow or service function reads its arguments through ``Checks``, which collects
every refusal by field and raises them together as one ``ValidationError``: a page shows
each next to its field, the API answers them as a 400 by field, and both say the same
words because only this says them. A form may refuse the same thing first (a length, to
give its field a ``maxlength``); it then uses the same validator, so the words match.
"""

import datetime as dt

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils import timezone

#: How far from today a date may be; further is a typo (0224 for 2024, 2204).
NEAR_TODAY = dt.timedelta(days=3652)


def length_limit(model: type[models.Model], field: str) -> int:
    """The longest text a model's field holds: what the checks hold input to, and what a
    form's box or the API's schema says."""
    model_field = model._meta.get_field(field)
    if not isinstance(model_field, models.CharField) or model_field.max_length is None:
        raise ImproperlyConfigured(f"{model.__name__}.{field} is not a text field with a limit.")
    return model_field.max_length


def near_today(value: dt.date) -> None:
    """Refuse a date more than ten years before or after today."""
    today = timezone.localdate()
    earliest, latest = today - NEAR_TODAY, today + NEAR_TODAY
    if not earliest <= value <= latest:
        raise ValidationError(
            f"Enter a date from {earliest:%Y-%m-%d} to {latest:%Y-%m-%d}.", code="far"
        )


class Checks:
    """The refusals of one call, by field; ``done()`` raises them if there are any."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def refuse(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def refused(self, field: str) -> bool:
        return field in self.errors

    def text(self, field: str, value: str, *, limit: int, required: str = "") -> str:
        """``value`` trimmed; refused when longer than ``limit`` characters, or empty when
        ``required`` (the words to say then)."""
        value = (value or "").strip()
        if required and not value:
            self.refuse(field, required)
        try:
            MaxLengthValidator(limit)(value)
        except ValidationError as error:
            self.errors.setdefault(field, []).extend(error.messages)
        return value

    def date(
        self,
        field: str,
        value: dt.date | None,
        *,
        required: str = "",
        past: str = "",
        after: tuple[dt.date | None, str] | None = None,
        not_before: tuple[dt.date | None, str] | None = None,
        today: dt.date | None = None,
    ) -> dt.date | None:
        """A date near today (``near_today``), and then, each when asked for: given
        (``required``), not after ``today`` for a past event (``past``; ``today`` is the
        day the event is recorded, the calendar's today unless told), strictly after a
        date (``after``) or on or after one (``not_before``), each with its words."""
        if value is None:
            if required:
                self.refuse(field, required)
            return None
        try:
            near_today(value)
        except ValidationError as error:
            # A typo (0224 for 2024): the window says so, and where a date may fall.
            self.errors.setdefault(field, []).extend(error.messages)
            return value
        if past and value > (today or timezone.localdate()):
            self.refuse(field, past)
        elif after is not None and after[0] is not None and value <= after[0]:
            self.refuse(field, after[1])
        elif not_before is not None and not_before[0] is not None and value < not_before[0]:
            self.refuse(field, not_before[1])
        return value

    def done(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)
