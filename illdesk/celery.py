"""The Celery app. Its configuration is the ``CELERY_*`` part of ``illdesk.settings``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illdesk.settings")

app = Celery("illdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
