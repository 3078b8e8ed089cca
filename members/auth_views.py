"""Logging in: the password, a lockout after repeated failures, the optional second factor
(TOTP) and the password reset by e-mail. docs/security.md says what each one guarantees.

Failures lock the account, not the network address (``AXES_LOCKOUT_PARAMETERS``): a
library's staff share one address, so one person's typos must not lock out the rest.
"""

import base64

import qrcode
import qrcode.image.svg
from axes.utils import reset as reset_lockout
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import match_token, user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

LOCKED_OUT = (
    "This account is locked for {minutes} minutes after {limit} wrong passwords in a row. "
    "Wait and try again, or reset your password by e-mail. Your colleagues can still log in."
)


def _code_field(label: str, required: bool) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class LoginForm(AuthenticationForm):
    """Username and password, and the six-digit code for accounts with a second factor."""

    otp_token = _code_field("Code from your authenticator app", required=False)
    otp_token.help_text = "Only if you have turned on two-factor sign-in."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Django sets these as attributes only; a longer name is refused on its field here,
        # before django-axes tries to record it in its 255-character column.
        for name, limit in (("username", 150), ("password", 4096)):
            self.fields[name].widget.attrs["maxlength"] = limit
            self.fields[name].validators.append(MaxLengthValidator(limit))
        self.otp_device = None

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if user is not None and user_has_device(user, confirmed=True):
            token = (cleaned.get("otp_token") or "").strip()
            if not token:
                raise forms.ValidationError(
                    {"otp_token": "Enter the code from your authenticator app."}
                )
            self.otp_device = match_token(user, token)
            if self.otp_device is None:
                raise forms.ValidationError(
                    {"otp_token": "That code is not right, or has expired. Try the newest one."}
                )
        return cleaned


class LoginView(auth_views.LoginView):
    form_class = LoginForm

    def form_valid(self, form):
        response = super().form_valid(form)
        if form.otp_device is not None:
            otp_login(self.request, form.otp_device)
        return response


def locked_out(request, original_response=None, credentials=None):
    """What django-axes answers a locked account: the login page (or JSON for the API)
    saying why and for how long, with 429."""
    message = LOCKED_OUT.format(
        minutes=int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        limit=settings.AXES_FAILURE_LIMIT,
    )
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=429)
    form = LoginForm(request, initial={"username": (credentials or {}).get("username", "")})
    context = {"form": form, "locked_out": message, "next": request.POST.get("next", "")}
    return render(request, "registration/login.html", context, status=429)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Setting a new password from the e-mailed link also lifts a lockout."""

    def form_valid(self, form):
        reset_lockout(username=form.user.get_username())
        return super().form_valid(form)


class _CodeForm(forms.Form):
    token = _code_field("Code from your authenticator app", required=True)


def _safe_next(request) -> str:
    """``?next=`` when it stays on this site (the admin sends people here), else this page."""
    target = request.GET.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse("two_factor")


def _qr_svg(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request):
    """Turn a second factor on (scan, then confirm a code), verify this session with it, or
    turn it off (with a code). Shown to everyone; the admin site can require it."""
    user = request.user
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    form = _CodeForm(request.POST or None)
    if confirmed is None:
        pending, _ = TOTPDevice.objects.get_or_create(
            user=user, confirmed=False, defaults={"name": "Authenticator app"}
        )
        if request.method == "POST" and form.is_valid():
            if pending.verify_token(form.cleaned_data["token"]):
                pending.confirmed = True
                pending.save(update_fields=["confirmed"])
                otp_login(request, pending)
                messages.success(request, "Two-factor sign-in is on for your account.")
                return redirect(_safe_next(request))
            form.add_error("token", "That code is not right. Check your app's clock and retry.")
        secret = base64.b32encode(pending.bin_key).decode()
        context = {
            "state": "setup",
            "form": form,
            "qr_svg": mark_safe(_qr_svg(pending.config_url)),  # noqa: S308 -- our own SVG
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        }
        return render(request, "registration/two_factor.html", context)

    verified = user.is_verified()
    if request.method == "POST" and form.is_valid():
        if not confirmed.verify_token(form.cleaned_data["token"]):
            form.add_error("token", "That code is not right, or has expired. Try the newest one.")
        elif verified:
            TOTPDevice.objects.filter(user=user).delete()
            messages.success(request, "Two-factor sign-in is off for your account.")
            return redirect("two_factor")
        else:
            otp_login(request, confirmed)
            messages.success(request, "This session is verified with your second factor.")
            return redirect(_safe_next(request))
    context = {"state": "on" if verified else "verify", "form": form}
    return render(request, "registration/two_factor.html", context)
