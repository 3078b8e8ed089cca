"""The admin app, with illdesk's own admin site as its default site."""

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    default_site = "illdesk.admin_site.AdminSite"
