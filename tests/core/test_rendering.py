"""The workflow's action forms are drawn by Jinja2 (core/rendering.py), every other form by
Django's templates, and both draw the same error list: an address in a refusal is a link."""

from django import forms
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.forms.renderers import get_default_renderer
from django.forms.utils import ErrorList

from core.forms import WorkflowForm
from core.rendering import ACTION_FORMS, FormRenderer

REFUSAL = "Articles go to document delivery: https://example.org/delivery"


class Note(WorkflowForm):
    note = forms.CharField(max_length=10)


def test_an_action_form_is_drawn_by_jinja2_and_other_forms_are_not():
    assert Note().renderer is ACTION_FORMS
    assert isinstance(ACTION_FORMS, FormRenderer)
    assert not isinstance(get_default_renderer(), FormRenderer)


def test_both_engines_link_an_address_in_an_error():
    for renderer in (ACTION_FORMS, get_default_renderer()):
        html = str(ErrorList([REFUSAL], renderer=renderer))
        assert '<a href="https://example.org/delivery"' in html, renderer
        assert html.startswith('<ul class="errorlist">'), renderer


def test_an_action_forms_field_error_sits_next_to_its_field():
    form = Note({"note": "<b>far too long</b>"})
    html = str(form)
    assert 'aria-describedby="id_note_error"' in html
    assert '<ul class="errorlist" id="id_note_error">' in html
    assert "<b>" not in html  # escaped, as Django's templates escape


def test_a_widget_with_no_jinja2_template_falls_back_to_djangos(admin_user):
    from django.contrib import admin

    from members.models import User

    field = User._meta.get_field("library")
    wrapped = RelatedFieldWidgetWrapper(forms.Select(), field.remote_field, admin.site)
    assert "related-widget-wrapper" in wrapped.render("library", None, renderer=ACTION_FORMS)
