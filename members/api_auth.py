"""The API's sign-in: a token for what the login page asks (``members.forms.SignInForm``),
and an end to the token a call is made with. How a call proves who makes it is
``members.authentication``; the tokens themselves are ``members.tokens``."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import DETAIL, UNAUTHORIZED, WRITE_ERRORS
from core.text import OneLineFormField
from core.throttles import TokenThrottle

from .forms import SignInForm
from .models import ApiToken
from .sign_in import WINDOW, signed_in
from .tokens import api_lifetime, issue_token, revoke

#: When to try again after the guard refused: its counts cover the last hour.
GUARDED_RETRY = {"Retry-After": str(int(WINDOW.total_seconds()))}


class TokenRequestForm(SignInForm):
    """A login, and what the token is for."""

    name = OneLineFormField(max_length=100, required=False)


def _field_errors(form) -> dict[str, list[str]]:
    return {
        ("non_field_errors" if field == "__all__" else field): list(messages)
        for field, messages in form.errors.items()
    }


class TokenView(APIView):
    """``POST {"username", "password", "otp_token"?, "name"?}`` answers a new token.

    It asks what the login page asks, through the same form: the code from the
    authenticator app when the account has turned on two-factor sign-in. Every call makes
    a new token, which lasts ``API_TOKEN_HOURS``; the key is in this answer only.
    Throttled per address (``API_RATE_TOKEN``); wrong passwords count towards the same
    lockout and guard as on the login page (429).
    """

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenThrottle]

    @extend_schema(
        summary="Get an API token",
        request=inline_serializer(
            "Credentials",
            {
                "username": serializers.CharField(max_length=150),
                "password": serializers.CharField(max_length=4096),
                "otp_token": serializers.CharField(
                    max_length=8,
                    required=False,
                    help_text="The code from the authenticator app, for accounts with "
                    "two-factor sign-in.",
                ),
                "name": serializers.CharField(
                    max_length=100, required=False, help_text="What the token is for."
                ),
            },
        ),
        responses={
            200: inline_serializer(
                "Token",
                {
                    "token": serializers.CharField(help_text="Shown this once only."),
                    "name": serializers.CharField(),
                    "expires_at": serializers.DateTimeField(),
                },
            ),
            400: WRITE_ERRORS[400],
            429: OpenApiResponse(
                DETAIL, description="Too many tries: throttled, locked or guarded."
            ),
        },
        auth=[],
    )
    def post(self, request):
        data = request.data if isinstance(request.data, dict) else {}
        # Django's own request: django-axes and the guard record what they see on it.
        form = TokenRequestForm(request._request, data=data)
        if not form.is_valid():
            if form.refusal:
                return Response({"detail": form.refusal}, status=429, headers=GUARDED_RETRY)
            return Response(_field_errors(form), status=status.HTTP_400_BAD_REQUEST)
        user = form.get_user()
        token, key = issue_token(
            user, lifetime=api_lifetime(), name=form.cleaned_data["name"] or "API sign-in"
        )
        signed_in(request._request, user)
        # The key is in this answer alone: no cache may keep a copy.
        return Response(
            {
                "token": key,
                "name": token.name,
                "expires_at": serializers.DateTimeField().to_representation(token.expires_at),
            },
            headers={"Cache-Control": "no-store"},
        )


class LogoutView(APIView):
    """``POST`` revokes the token the call is made with: it stops working at once."""

    @extend_schema(
        summary="Revoke this token",
        request=None,
        responses={
            204: OpenApiResponse(description="Revoked."),
            400: OpenApiResponse(DETAIL, description="The call was not made with a token."),
            **UNAUTHORIZED,
        },
    )
    def post(self, request):
        if not isinstance(request.auth, ApiToken):
            return Response(
                {"detail": "This call was not made with a token; log out of the site instead."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        revoke(request.auth, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
