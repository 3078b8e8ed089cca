"""Forms for the member library pages (finding a library, an admin editing a profile) and
for signing in, which the login page and ``POST /api/v1/auth/token/`` share.

The profile form validates through the model (its validators and constraints), with the
one rule a database constraint states only as a whole-row error, the ILL code unique in
any case, checked on the field so the message sits next to it.
"""

from typing import cast

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import IntegrityError, transaction
from django_otp import match_token, user_has_device

from core.forms import ANY_YES_NO
from core.text import LinesFormField

from .models import MemberLibrary, Region, User

ILL_CODE_UNIQUE = "memberlibrary_ill_code_unique_any_case"


def _constraint_message(name: str) -> str:
    for constraint in MemberLibrary._meta.constraints:
        if constraint.name == name:
            return str(constraint.violation_error_message)
    raise LookupError(name)  # pragma: no cover - the model defines it


def region_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in Region.objects.values_list("name", flat=True)]


class LibrarySearchForm(forms.Form):
    q = forms.CharField(
        label="Name, ILL code or BPL number",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    region = forms.ChoiceField(label="Region", required=False)
    active = forms.ChoiceField(label="Active", choices=ANY_YES_NO, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["region"]).choices = [
            ("", "Any region"),
            *region_choices(),
        ]

    def is_active(self) -> bool | None:
        value = self.cleaned_data.get("active")
        return None if not value else value == "yes"


class LibraryProfileForm(forms.ModelForm):
    """A member library's profile, as an admin edits it, with the reason for the change."""

    reason = forms.CharField(
        label="Reason for the change (optional)",
        max_length=100,
        required=False,
        help_text="Kept in the profile's history with your name and the time.",
    )
    # The model's text columns have no length; the form gives them one.
    address = LinesFormField(
        max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    notes = LinesFormField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    class Meta:
        model = MemberLibrary
        fields = MemberLibrary.PROFILE_FIELDS
        widgets = {"max_cost": forms.NumberInput(attrs={"step": "0.01", "min": "0"})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The service's regions as a list to choose from (the model checks it too).
        self.fields["region"] = forms.ChoiceField(
            label="Region",
            choices=[("", "Choose a region"), *region_choices()],
            help_text="Regions are a list the admin keeps.",
        )

    def clean_ill_code(self) -> str:
        code = self.cleaned_data["ill_code"].strip()
        taken = MemberLibrary.objects.filter(ill_code__iexact=code).exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError(_constraint_message(ILL_CODE_UNIQUE), code="unique")
        return code

    def clean_bpl_number(self) -> str:
        return self.cleaned_data["bpl_number"].strip()

    def profile_changed(self) -> bool:
        """Whether any profile field changed (the reason alone is not a change)."""
        return any(name != "reason" for name in self.changed_data)

    def save_with_history(self, *, actor: User) -> MemberLibrary | None:
        """Save the profile; its history records ``actor``, the time and the reason.

        Returns the library, or None when a conflicting change someone saved a moment ago
        (the same ILL code or BPL number) refused it: the error is then on the form and
        nothing is saved.
        """
        library = self.save(commit=False)
        library._history_user = actor
        library._change_reason = self.cleaned_data["reason"].strip() or None
        try:
            with transaction.atomic():
                library.save()
        except IntegrityError:
            self.add_error(
                None, "Someone saved a conflicting change a moment ago: check the codes."
            )
            return None
        return library


# --- Signing in -------------------------------------------------------------------------


def code_field(label: str, required: bool) -> forms.CharField:
    """The six-digit code from an authenticator app."""
    return forms.CharField(
        label=label,
        required=required,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class SignInForm(AuthenticationForm):
    """Username and password, and the six-digit code for accounts with a second factor.

    The login page and ``POST /api/v1/auth/token/`` both check their input with it, so an
    API token takes exactly what a login takes. ``request`` must be Django's own.
    """

    otp_token = code_field("Code from your authenticator app", required=False)
    otp_token.help_text = "Only if you have turned on two-factor sign-in."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Django sets these as attributes only; a longer name is refused on its field here,
        # before django-axes tries to record it in its 255-character column.
        for name, limit in (("username", 150), ("password", 4096)):
            self.fields[name].widget.attrs["maxlength"] = limit
            self.fields[name].validators.append(MaxLengthValidator(limit))
        self.otp_device = None

    @property
    def refusal(self) -> str | None:
        """The guard's reason, when it refused this sign-in before trying the password."""
        return getattr(self.request, "sign_in_refused", None)

    def get_invalid_login_error(self) -> ValidationError:
        if self.refusal:
            return ValidationError(self.refusal, code="guarded")
        return super().get_invalid_login_error()

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if self.errors:
            # Another field is wrong (a token's name, say): a right code is not spent on
            # an answer that refuses anyway.
            return cleaned
        if user is not None and user_has_device(user, confirmed=True):
            token = (cleaned.get("otp_token") or "").strip()
            if not token:
                raise ValidationError({"otp_token": "Enter the code from your authenticator app."})
            self.otp_device = match_token(user, token)
            if self.otp_device is None:
                # As a wrong password: it counts towards the lockout and the guard.
                user_login_failed.send(
                    sender=__name__,
                    credentials={"username": user.get_username()},
                    request=self.request,
                )
                raise ValidationError(
                    {"otp_token": "That code is not right, or has expired. Try the newest one."}
                )
        return cleaned


class FirstPasswordForm(PasswordResetForm):
    """ "Forgot your password?", which also sets a first one: an account imported (or made
    in the admin) without a password gets the same single-use, expiring link by e-mail
    (Django's own form leaves such accounts out). Nobody mails passwords."""

    def get_users(self, email):
        return (
            user
            for user in User.objects.filter(email__iexact=email, is_active=True).exclude(
                username=User.SERVICE_USERNAME
            )
            if user.email.casefold() == email.casefold()
            # A first password only for an account never used: one whose password an
            # admin turned off after it signed in stays off.
            and (user.has_usable_password() or user.last_login is None)
        )
