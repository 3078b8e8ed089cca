"""URL configuration. Page addresses stay stable: other systems and bookmarks link to them."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from requests_app import views as request_views

from . import views

admin.site.site_header = "illdesk administration"
admin.site.site_title = "illdesk admin"

urlpatterns = [
    path("", request_views.home, name="home"),
    path("requests/<int:pk>/", request_views.request_detail, name="request_detail"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
