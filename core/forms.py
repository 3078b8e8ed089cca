"""Form and filter pieces every app's pages (and the API's filters) share."""

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError

from .rendering import ACTION_FORMS

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
YES_NO = [("yes", "Yes"), ("no", "No")]
ANY_YES_NO = [("", "Any"), *YES_NO]


class WorkflowForm(forms.Form):
    """A form whose input a workflow or service function checks further. ``subject`` is
    what it acts on (a request), for a form whose choices depend on it. Drawn by Jinja2
    (``core.rendering``): a request page draws a dozen."""

    default_renderer = ACTION_FORMS

    def __init__(self, *args: Any, subject: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subject = subject

    def add_workflow_errors(self, error: ValidationError) -> None:
        """Put a ``ValidationError`` from the workflow on the fields it names."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, messages in error.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)


#: A yes/no query parameter that refuses anything else (``BooleanFilter`` ignores it).
TRUE_FALSE = [("true", "Yes"), ("false", "No")]


def yes_no_filter(**kwargs: Any) -> django_filters.TypedChoiceFilter:
    """``?name=true`` or ``?name=false``; any other value is a 400 naming the parameter."""
    return django_filters.TypedChoiceFilter(
        choices=TRUE_FALSE, coerce=lambda value: value == "true", **kwargs
    )
