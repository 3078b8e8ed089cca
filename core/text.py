"""One-line text: the rule for every field that holds a single line (a title, a name, a
tracking number), and for anything built from such a field, like an e-mail subject.

Text pasted from a catalogue or a PDF often brings a line break, a tab or an invisible
control character with it. In a one-line field they are not refused but tidied: any run of
whitespace (line breaks included) becomes one space, and other control characters go, so
a title can never break an e-mail header or a CSV row. ``OneLineField`` applies the rule
wherever a value enters a model: a form's cleaning, ``full_clean`` and every save.
"""

import re
from typing import TYPE_CHECKING, Any

from django import forms
from django.db import models

#: Control characters that are not whitespace (C0, DEL, C1 but NEL); the byte-order mark
#: a paste brings along; the bidirectional embeddings and overrides (U+202A to U+202E),
#: which can make a title read backwards on screen; and lone surrogates, which no database
#: can store as UTF-8. Whitespace controls (tab, line breaks, the file and record
#: separators, NEL) and the Unicode line and paragraph separators are split on. Joiners and
#: direction marks, which some scripts need, stay.
_DROPPED = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u202a-\u202e\ufeff\ud800-\udfff]")


def one_line(value: str) -> str:
    """``value`` on one line: runs of whitespace become one space, control characters go,
    and the ends are trimmed."""
    return " ".join(_DROPPED.sub("", value).split())


def plain_lines(value: str) -> str:
    """``value`` with its line breaks as ``\n``: a browser sends a text area's lines
    ended by ``\r\n``, which would make an unchanged address look changed."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


class LinesFormField(forms.CharField):
    """A form's text area whose lines end as stored (``plain_lines``)."""

    widget = forms.Textarea

    def to_python(self, value: Any) -> str | None:
        text = super().to_python(value)
        return plain_lines(text) if isinstance(text, str) else text


class OneLineFormField(forms.CharField):
    """A form's text field that keeps its value to one line (``one_line``).

    A NUL is refused, as by every text field (Django's own validator), not tidied away: no
    paste brings one, so it is a broken or hostile client, and the API refuses it too.
    """

    def to_python(self, value: Any) -> str | None:
        text = super().to_python(value)
        if isinstance(text, str) and "\x00" not in text:
            text = one_line(text)
        return text


if TYPE_CHECKING:
    from django.db.models.expressions import Combinable

    # Model fields are generic (the type set, the type read) in django-stubs only.
    _CharField = models.CharField[str | int | Combinable, str]
else:
    _CharField = models.CharField


class OneLineField(_CharField):
    """A ``CharField`` that holds one line of text (``one_line``).

    The value is tidied when a form or ``full_clean`` cleans it, so the length and
    uniqueness checks see what will be stored, and again on every save, so a value that
    reached the model another way is stored tidy too.
    """

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return one_line(value) if isinstance(value, str) else value

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        if isinstance(value, str):
            value = one_line(value)
            setattr(model_instance, self.attname, value)
        return value

    def formfield(
        self,
        form_class: type[forms.Field] | None = None,
        choices_form_class: type[forms.ChoiceField] | None = None,
        **kwargs: Any,
    ) -> forms.Field | None:
        return super().formfield(
            form_class=form_class or OneLineFormField,
            choices_form_class=choices_form_class,
            **kwargs,
        )
