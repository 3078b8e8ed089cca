"""URL configuration. Page addresses stay stable: other systems and bookmarks link to them."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from requests_app import report_views
from requests_app import views as request_views

from . import views

admin.site.site_header = "illdesk administration"
admin.site.site_title = "illdesk admin"

urlpatterns = [
    path("", request_views.home, name="home"),
    path("requests/", request_views.request_list, name="request_list"),
    path("requests/new/", request_views.request_new, name="request_new"),
    path("requests/<int:pk>/", request_views.request_detail, name="request_detail"),
    path(
        "requests/<int:pk>/<slug:action>/",
        request_views.request_action,
        name="request_action",
    ),
    path("queue/", request_views.queue, name="queue"),
    path("queue/bulk/", request_views.queue_bulk, name="queue_bulk"),
    path(
        "unrequested-items/",
        request_views.unrequested_item_list,
        name="unrequested_item_list",
    ),
    path(
        "unrequested-items/new/",
        request_views.unrequested_item_new,
        name="unrequested_item_new",
    ),
    path("reports/", report_views.report_index, name="reports"),
    path("reports/<slug:slug>/", report_views.report_page, name="report"),
    path("reports/<slug:slug>/chart.svg", report_views.report_chart, name="report_chart"),
    path("lenders/", include("lenders.urls")),
    path("libraries/", include("members.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include("illdesk.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema"), name="api_docs"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
