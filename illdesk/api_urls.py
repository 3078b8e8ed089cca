"""``/api/v1/``: the API's addresses. They are a public contract: change none of them."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from lenders.api import LenderViewSet
from members.api import LibraryViewSet, PatronViewSet
from members.api_auth import LogoutView, TokenView
from requests_app.api.views import RequestViewSet, UnrequestedItemViewSet

# No `.json` twins of every address: JSON is the only format, and the twins of the
# action endpoints answered 500 (found by tests/test_isolation_walk.py).
router = DefaultRouter(trailing_slash=True)
router.include_format_suffixes = False
router.include_root_view = False
router.register("requests", RequestViewSet, basename="request")
router.register("libraries", LibraryViewSet, basename="library")
router.register("lenders", LenderViewSet, basename="lender")
router.register("patrons", PatronViewSet, basename="patron")
router.register("unrequested-items", UnrequestedItemViewSet, basename="unrequested-item")

app_name = "api"
urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="token"),
    path("auth/logout/", LogoutView.as_view(), name="logout"),
    *router.urls,
]
