"""``/api/v1/``: the API's addresses. They are a public contract: change none of them."""

from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.routers import DefaultRouter

from lenders.api import LenderViewSet
from members.api import LibraryViewSet, PatronViewSet
from requests_app.api import RequestViewSet

from .api import WRITE_ERRORS
from .throttles import TokenThrottle


class TokenView(ObtainAuthToken):
    """``POST {"username", "password"}`` answers ``{"token"}``, for ``Authorization: Token``.

    Throttled per address, and a wrong password counts against the account as on the login
    page: after ``AXES_FAILURE_LIMIT`` failures the account is locked for a while (429).
    """

    authentication_classes = []
    throttle_classes = [TokenThrottle]

    @extend_schema(
        summary="Get your API token",
        request=inline_serializer(
            "Credentials",
            {"username": serializers.CharField(), "password": serializers.CharField()},
        ),
        responses={
            200: inline_serializer("Token", {"token": serializers.CharField()}),
            400: WRITE_ERRORS[400],
            429: inline_serializer("Locked", {"detail": serializers.CharField()}),
        },
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def get_serializer_context(self):
        # Django's own request, on which django-axes marks a lockout for its middleware.
        return super().get_serializer_context() | {"request": self.request._request}


# No `.json` twins of every address: JSON is the only format, and the twins of the
# action endpoints answered 500 (found by tests/test_isolation_walk.py).
router = DefaultRouter(trailing_slash=True)
router.include_format_suffixes = False
router.include_root_view = False
router.register("requests", RequestViewSet, basename="request")
router.register("libraries", LibraryViewSet, basename="library")
router.register("lenders", LenderViewSet, basename="lender")
router.register("patrons", PatronViewSet, basename="patron")

app_name = "api"
urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="token"),
    *router.urls,
]
