"""Forms read from their pages as a browser reads them, and what a response says of them.

``form_on`` finds a form by where it goes and lists its controls with what their HTML says
they take (a maxlength, a type, the options, ``required``) and what a browser would send as
the page stands. ``errors_for`` and ``shown`` read the bound forms a response's templates
were given, so a test can tell which field an error is on and that the page shows it.
"""

from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser
from urllib.parse import urlsplit

import django_filters
from django import forms
from django.contrib.admin import helpers
from django.test.utils import ContextList

TEXT_TYPES = {"text", "search", "email", "password", "tel", "url", "textarea"}
NOT_SUBMITTED = {"submit", "button", "image", "reset", "file"}


@dataclass
class Control:
    """One named control of a form, as its HTML describes it."""

    name: str
    kind: str  # the input's type, or "select" / "textarea"
    values: list[str] = field(default_factory=list)  # what a browser sends as it stands
    choices: set[str] = field(default_factory=set)  # a select's options, a radio's values
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def maxlength(self) -> int | None:
        return int(self.attrs["maxlength"]) if "maxlength" in self.attrs else None

    @property
    def is_date(self) -> bool:
        return self.kind == "date" or "vDateField" in self.attrs.get("class", "")


@dataclass
class HtmlForm:
    method: str
    action: str  # a path: the page's own when the form names none
    controls: dict[str, Control] = field(default_factory=dict)

    def as_submitted(self) -> dict[str, str | list[str]]:
        """What a browser would send as the page stands (the CSRF token aside)."""
        return {
            name: control.values if len(control.values) > 1 else control.values[0]
            for name, control in self.controls.items()
            if control.values and name != "csrfmiddlewaretoken"
        }


class _FormReader(HTMLParser):
    def __init__(self, page_path: str):
        super().__init__(convert_charrefs=True)
        self.page_path = page_path
        self.forms: list[HtmlForm] = []
        self._form: HtmlForm | None = None
        self._select: Control | None = None
        self._first_option: str | None = None
        self._textarea: Control | None = None

    def handle_starttag(self, tag, attrs):
        attrs = {key: value or "" for key, value in attrs}
        if tag == "form":
            action = urlsplit(attrs.get("action", "")).path or self.page_path
            self._form = HtmlForm(attrs.get("method", "get").lower(), action)
            self.forms.append(self._form)
        elif tag == "option" and self._select is not None:
            self._option(attrs)
        elif self._form is not None and attrs.get("name"):
            self._named(tag, attrs["name"], attrs)

    def _named(self, tag: str, name: str, attrs: dict) -> None:
        kind = "select" if tag == "select" else attrs.get("type", tag).lower()
        if tag not in ("input", "select", "textarea") or kind in NOT_SUBMITTED:
            return
        control = self._form.controls.setdefault(name, Control(name, kind, attrs=attrs))
        if tag == "select":
            self._select, self._first_option = control, None
        elif tag == "textarea":
            self._textarea = control
            control.values.append("")
        elif kind in ("radio", "checkbox"):
            value = attrs.get("value", "on")
            control.choices.add(value)
            if "checked" in attrs:
                control.values.append(value)
        else:
            control.values.append(attrs.get("value", ""))

    def _option(self, attrs: dict) -> None:
        value = attrs.get("value", "")
        self._select.choices.add(value)
        if self._first_option is None:
            self._first_option = value
        if "selected" in attrs:
            self._select.values.append(value)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.values[-1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None:
            select = self._select
            if not select.values and "multiple" not in select.attrs and self._first_option:
                select.values.append(self._first_option)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self._textarea.values[-1] = self._textarea.values[-1].removeprefix("\n")
            self._textarea = None


def forms_on(response, page_path: str) -> list[HtmlForm]:
    reader = _FormReader(page_path)
    reader.feed(response.content.decode())
    return reader.forms


def form_on(response, page_path: str, action: str, method: str = "post") -> HtmlForm:
    """The page's form that goes to ``action``: one, even where the page splits it (the
    request page's assignee form stands apart from its other side actions)."""
    found = [
        form
        for form in forms_on(response, page_path)
        if form.action == action and form.method == method
    ]
    assert found, f"no {method} form to {action} on {page_path} ({response.status_code})"
    merged = found[0]
    for form in found[1:]:
        merged.controls |= form.controls
    return merged


# --- What a response says about its forms ------------------------------------------------


def _contexts(response) -> list:
    context = response.context
    if context is None:
        return []
    return list(context) if isinstance(context, ContextList) else [context]


def bound_forms(response) -> list[forms.BaseForm]:
    """Every bound form the response's templates were given, inside formsets and filters."""
    found: dict[int, forms.BaseForm] = {}

    def visit(value, depth: int) -> None:
        if isinstance(value, forms.BaseForm):
            if value.is_bound:
                found[id(value)] = value
        elif isinstance(value, forms.BaseFormSet):
            for form in value.forms:
                visit(form, depth)
        elif isinstance(value, django_filters.FilterSet | helpers.AdminForm):
            visit(value.form, depth)
        elif isinstance(value, helpers.InlineAdminFormSet):
            visit(value.formset, depth)
        elif depth < 2 and isinstance(value, list | tuple):
            for item in value:
                visit(item, depth + 1)
        elif depth < 2 and isinstance(value, dict):
            for item in value.values():
                visit(item, depth + 1)

    for context in _contexts(response):
        for layer in context.dicts:
            for value in layer.values():
                visit(value, 0)
    return list(found.values())


def errors_for(response, name: str) -> list[str]:
    """The errors the bound form gave the field posted as ``name`` (``name_0`` and
    ``name_1`` are the two halves of a split field)."""
    for form in bound_forms(response):
        for field_name in form.fields:
            posted = form.add_prefix(field_name)
            if name == posted or (name.startswith(f"{posted}_") and name[-1].isdigit()):
                return list(form.errors.get(field_name, []))
    raise AssertionError(f"no bound form has the field {name}")


def every_error(response) -> list[str]:
    """Every error of every bound form and formset the response's templates were given."""
    errors = [
        str(error)
        for form in bound_forms(response)
        for field_errors in form.errors.values()
        for error in field_errors
    ]
    for context in _contexts(response):
        for layer in context.dicts:
            for value in layer.values():
                if isinstance(value, forms.BaseFormSet) and value.is_bound:
                    errors += [str(error) for error in value.non_form_errors()]
    return errors


def shown(response, errors: list[str]) -> bool:
    """Whether there is an error and the page shows each, escaped as templates escape."""
    page = response.content.decode()
    return bool(errors) and all(escape(error) in page for error in errors)
