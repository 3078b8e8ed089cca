"""Sessions that end after ``SESSION_COOKIE_AGE`` of inactivity, renewed at most once every
``SESSION_RENEW_SECONDS`` rather than on every page view.

Renewing on every view (``SESSION_SAVE_EVERY_REQUEST``) wrote the session's row and
flushed PostgreSQL's write-ahead log on every page a person opened: an UPDATE and a
COMMIT, about a tenth of a list page's time (docs/performance.md). A session is renewed
when a view finds it has lost more than ``SESSION_RENEW_SECONDS`` of its life, so an idle
session still ends ``SESSION_COOKIE_AGE`` after the last view, give or take that interval.
"""

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends import db
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.utils import timezone


class SessionStore(db.SessionStore):
    """The database's sessions, remembering the expiry the row had when it was read."""

    stored_expiry: dt.datetime | None = None

    def load(self) -> dict[str, Any]:
        row = self._get_session_from_db()  # type: ignore[attr-defined]
        if row is None:
            return {}
        self.stored_expiry = row.expire_date
        return self.decode(row.session_data)


def due_for_renewal(stored_expiry: dt.datetime, now: dt.datetime) -> bool:
    """Whether a session expiring at ``stored_expiry`` has lost more of its life than the
    renewal interval."""
    full_life = dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    interval = dt.timedelta(seconds=settings.SESSION_RENEW_SECONDS)
    return stored_expiry - now < full_life - interval


class RenewingSessionMiddleware(SessionMiddleware):
    """Django's session middleware, which also saves a session that is due for renewal."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        session = getattr(request, "session", None)
        stored_expiry = getattr(session, "stored_expiry", None)
        if (
            session is not None
            and stored_expiry is not None
            and not session.modified
            and not session.is_empty()
            and due_for_renewal(stored_expiry, timezone.now())
        ):
            session.modified = True
        return super().process_response(request, response)
