"""The workflow's action forms drawn by Jinja2, a compiled template engine.

A request page draws a dozen action forms, some forty fields in all; through Django's
template engine each field's label, widget and attributes were several template renders,
most of the page's time (docs/performance.md, "The request page"). Django ships the same
form templates for Jinja2; the project's own (the error list, which links an address, as
templates/django/forms/errors/list/ul.html does for every other form) sit in
templates/jinja2/ in front of them. ``WorkflowForm`` uses this renderer; the admin and the
other forms keep ``FORM_RENDERER``. A widget with no Jinja2 template is drawn by Django's
engine.
"""

from functools import cached_property
from pathlib import Path
from typing import Any

import django.forms
from django.conf import settings
from django.forms.renderers import Jinja2, TemplatesSetting
from django.template import TemplateDoesNotExist


class FormRenderer(Jinja2):
    """Django's Jinja2 form renderer, looking in templates/jinja2/ first, then in the
    project's Django templates for a widget Jinja2 has no template of."""

    fallback = TemplatesSetting()

    def get_template(self, template_name: str) -> Any:
        try:
            return super().get_template(template_name)
        except TemplateDoesNotExist:
            return self.fallback.get_template(template_name)

    @cached_property
    def engine(self) -> Any:
        return self.backend(
            {
                "APP_DIRS": False,
                "DIRS": [
                    Path(settings.BASE_DIR) / "templates" / "jinja2",
                    Path(django.forms.__file__).parent / "jinja2",
                ],
                "NAME": "illdeskforms",
                "OPTIONS": {},
            }
        )


#: One renderer for every action form: its Jinja2 environment (and compiled templates) is
#: built once a process.
ACTION_FORMS = FormRenderer()
