"""URL configuration. Page addresses stay stable: other systems and bookmarks link to them."""

from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from members import auth_views as account
from members.forms import FirstPasswordForm
from requests_app.reports import views as report_views
from requests_app.web import iso18626 as iso18626_views
from requests_app.web import views as request_views

from . import views

# Swagger UI sets inline styles as it draws; scripts stay our own files (docs/security.md).
api_docs = csp_update({"style-src": ["'unsafe-inline'"]})(
    SpectacularSwaggerSplitView.as_view(url_name="api_schema")
)

urlpatterns = [
    path("", request_views.home, name="home"),
    path("requests/", request_views.request_list, name="request_list"),
    path("requests/new/", request_views.request_new, name="request_new"),
    path("requests/<int:pk>/", request_views.request_detail, name="request_detail"),
    path("requests/<int:pk>/lender-slip/", request_views.lender_slip, name="lender_slip"),
    path(
        "requests/<int:pk>/<slug:action>/",
        request_views.request_action,
        name="request_action",
    ),
    path("queue/", request_views.queue, name="queue"),
    path("export/", request_views.export, name="export"),
    path("export/<str:name>", request_views.export_file, name="export_file"),
    # Where lenders post ISO 18626 messages (docs/iso18626.md).
    path("iso18626/", iso18626_views.receive, name="iso18626"),
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
    path(
        "unrequested-items/<int:pk>/",
        request_views.unrequested_item_detail,
        name="unrequested_item_detail",
    ),
    path("reports/", report_views.report_index, name="reports"),
    path("reports/<slug:slug>/", report_views.report_page, name="report"),
    path("reports/<slug:slug>/chart.svg", report_views.report_chart, name="report_chart"),
    path("lenders/", include("lenders.urls")),
    path("libraries/", include("members.urls")),
    path("accounts/login/", account.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/two-factor/", account.two_factor, name="two_factor"),
    path("accounts/api-tokens/", account.api_tokens, name="api_tokens"),
    path(
        "accounts/api-tokens/<int:pk>/revoke/",
        account.revoke_api_token,
        name="revoke_api_token",
    ),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password/changed/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "accounts/password-reset/",
        auth_views.PasswordResetView.as_view(form_class=FirstPasswordForm),
        name="password_reset",
    ),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        account.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/welcome/<uidb64>/<token>/", account.WelcomeView.as_view(), name="welcome"),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("api/v1/", include("illdesk.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", api_docs, name="api_docs"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
