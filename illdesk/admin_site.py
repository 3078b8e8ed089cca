"""The admin site, which can require a second factor (``ILLDESK_ADMIN_REQUIRE_2FA``).

With it set, an admin's session must be verified with their TOTP device (django-otp) before
any admin page opens; one without a device is sent to set one up. Nobody logs in here: the
admin's login address sends people to the site's login page, the one door that asks for
the second factor and keeps the sign-in limits.

A query string with a NUL character is a 400 on every admin page: the lists' filters hand
their values to the database, and PostgreSQL refuses a NUL with an error (a 500).
"""

from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import BadRequest
from django.shortcuts import redirect
from django.urls import reverse


class AdminSite(admin.AdminSite):
    site_header = "illdesk administration"
    site_title = "illdesk admin"

    def has_permission(self, request):
        if not super().has_permission(request):
            return False
        return not settings.ILLDESK_ADMIN_REQUIRE_2FA or request.user.is_verified()

    def admin_view(self, view, cacheable=False):
        page = super().admin_view(view, cacheable)

        @wraps(page)
        def refusing_nul(request, *args, **kwargs):
            if any("\x00" in key + "".join(values) for key, values in request.GET.lists()):
                raise BadRequest("A query string cannot hold a NUL character.")
            return page(request, *args, **kwargs)

        return refusing_nul

    def login(self, request, extra_context=None):
        user = request.user
        next_url = request.GET.get("next", reverse("admin:index"))
        if not user.is_authenticated:
            # One door for everyone: the login page asks for the second factor and keeps
            # the sign-in limits, which the admin's own login form would not.
            return redirect(f"{reverse('login')}?{urlencode({'next': next_url})}")
        if user.is_active and user.is_staff and not self.has_permission(request):
            return redirect(f"{reverse('two_factor')}?{urlencode({'next': next_url})}")
        return super().login(request, extra_context)
