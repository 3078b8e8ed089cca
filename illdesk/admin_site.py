"""The admin site, which can require a second factor (``ILLDESK_ADMIN_REQUIRE_2FA``).

With it set, an admin's session must be verified with their TOTP device (django-otp) before
any admin page opens; one without a device is sent to set one up.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse


class AdminSite(admin.AdminSite):
    site_header = "illdesk administration"
    site_title = "illdesk admin"

    def has_permission(self, request):
        if not super().has_permission(request):
            return False
        return not settings.ILLDESK_ADMIN_REQUIRE_2FA or request.user.is_verified()

    def login(self, request, extra_context=None):
        user = request.user
        if user.is_active and user.is_staff and not self.has_permission(request):
            query = urlencode({"next": request.GET.get("next", reverse("admin:index"))})
            return redirect(f"{reverse('two_factor')}?{query}")
        return super().login(request, extra_context)
