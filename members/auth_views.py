"""The account pages: logging in (its rules are ``members.sign_in``), the answer to a
locked sign-in, the password reset by e-mail, the second factor (TOTP) and the person's
own API tokens. docs/security.md says what each one guarantees.
"""

import base64
from datetime import timedelta
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.text import OneLineFormField

from .forms import SignInForm, code_field
from .invitations import invitation_tokens
from .models import ApiToken
from .sign_in import forgive
from .tokens import issue_token, live_tokens, revoke

LOCKED_OUT = (
    "Too many wrong passwords for this account from here: it is locked at this address for "
    "{minutes} minutes. Wait and try again, or reset your password by e-mail. Sign-ins from "
    "other places, and your colleagues here, are not affected."
)


class LoginView(auth_views.LoginView):
    form_class = SignInForm

    def form_valid(self, form):
        response = super().form_valid(form)
        if form.otp_device is not None:
            otp_login(self.request, form.otp_device)
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.refusal:
            response.status_code = 429
        return response


def locked_out(request, original_response=None, credentials=None):
    """What django-axes answers a locked account: the login page (or JSON for the API)
    saying why and for how long, with 429."""
    message = LOCKED_OUT.format(minutes=int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=429)
        response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
        return response
    form = SignInForm(request, initial={"username": (credentials or {}).get("username", "")})
    context = {"form": form, "locked_out": message, "next": request.POST.get("next", "")}
    return render(request, "registration/login.html", context, status=429)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Setting a new password from the e-mailed link also lifts every sign-in limit."""

    def form_valid(self, form):
        forgive(form.user.get_username())
        return super().form_valid(form)


class WelcomeView(PasswordResetConfirmView):
    """The invitation's link (``members.invitations``): the new person chooses their
    password, once, then signs in."""

    token_generator = invitation_tokens
    template_name = "registration/welcome.html"
    success_url = reverse_lazy("login")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, "Your password is set: sign in with it.")
        return response


class _CodeForm(forms.Form):
    token = code_field("Code from your authenticator app", required=True)


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


def _lifetimes() -> list[tuple[int, str]]:
    """The lifetimes a person may give a token, in days, up to ``API_TOKEN_MAX_DAYS``."""
    longest = settings.API_TOKEN_MAX_DAYS
    days = [d for d in (1, 7, 30) if d < longest] + [longest]
    return [(d, "1 day" if d == 1 else f"{d} days") for d in days]


class NewTokenForm(forms.Form):
    name = OneLineFormField(
        label="What is it for?",
        max_length=100,
        help_text="So you can tell your tokens apart, e.g. “Nightly overdue report”.",
    )
    days = forms.TypedChoiceField(label="Expires after", coerce=int, choices=_lifetimes)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["days"].initial = min(30, settings.API_TOKEN_MAX_DAYS)


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    """The person's own API tokens: make one (its key shown on this answer only), see the
    ones that still work, revoke any. A session must have passed the second factor, when
    the account has one, as the token endpoint asks for the code."""
    user = request.user
    if user_has_device(user, confirmed=True) and not user.is_verified():
        return redirect(f"{reverse('two_factor')}?{urlencode({'next': reverse('api_tokens')})}")
    form = NewTokenForm(request.POST or None)
    new_key = new_token = None
    if request.method == "POST" and form.is_valid():
        lifetime = timedelta(days=form.cleaned_data["days"])
        new_token, new_key = issue_token(user, lifetime=lifetime, name=form.cleaned_data["name"])
        form = NewTokenForm()
    context = {
        "form": form,
        "tokens": live_tokens(user),
        "new_key": new_key,
        "new_token": new_token,
        "api_hours": settings.API_TOKEN_HOURS,
    }
    response = render(
        request, "registration/api_tokens.html", context, status=201 if new_key else 200
    )
    # The key is in this page alone: no cache may keep a copy.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def revoke_api_token(request, pk: int):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    revoke(token, actor=request.user)
    messages.success(request, f"The token “{token}” is revoked: it no longer works.")
    return redirect("api_tokens")
