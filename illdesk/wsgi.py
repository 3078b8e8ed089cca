"""WSGI entry point, as gunicorn serves it: ``gunicorn illdesk.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illdesk.settings")
application = get_wsgi_application()
