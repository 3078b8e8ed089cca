"""Form and filter pieces every app's pages (and the API's filters) share."""

import datetime as dt

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
YES_NO = [("yes", "Yes"), ("no", "No")]
ANY_YES_NO = [("", "Any"), *YES_NO]
#: How far from today a date typed into a form may be; further is a typo (0224, 2204).
NEAR_TODAY = dt.timedelta(days=3652)


def near_today(value: dt.date) -> None:
    """Refuse a date more than ten years before or after today."""
    today = timezone.localdate()
    earliest, latest = today - NEAR_TODAY, today + NEAR_TODAY
    if not earliest <= value <= latest:
        raise ValidationError(
            f"Enter a date from {earliest:%Y-%m-%d} to {latest:%Y-%m-%d}.", code="far"
        )


class WorkflowForm(forms.Form):
    """A form whose input a workflow or service function checks further."""

    def add_workflow_errors(self, error: ValidationError) -> None:
        """Put a ``ValidationError`` from the workflow on the fields it names."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, messages in error.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)


#: A yes/no query parameter that refuses anything else (``BooleanFilter`` ignores it).
TRUE_FALSE = [("true", "Yes"), ("false", "No")]


def yes_no_filter(**kwargs) -> django_filters.TypedChoiceFilter:
    """``?name=true`` or ``?name=false``; any other value is a 400 naming the parameter."""
    return django_filters.TypedChoiceFilter(
        choices=TRUE_FALSE, coerce=lambda value: value == "true", **kwargs
    )
