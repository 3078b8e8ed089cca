"""The limits on signing in that keep guessing slow without letting a stranger lock anybody
out, the same for the login page and the API's token endpoint (whose input both check
with ``members.forms.SignInForm``). docs/security.md says what each limit guarantees.

The limits, all keyed on the real client address (``core.client_address``):

- **Account at an address** (django-axes, ``AXES_LOCKOUT_PARAMETERS``): five wrong passwords
  for one account from one address lock that account *at that address* for 15 minutes.
  The owner elsewhere, and colleagues at the same address, are not affected.
- **Account, from everywhere** (``SignInGuard``): past ``ILLDESK_ACCOUNT_FAILURES_PER_HOUR``
  failures in an hour from more than one address, the account takes a password only from
  addresses it has signed in from in the last ``ILLDESK_KNOWN_ADDRESS_DAYS``. Its owner at
  their usual place signs in as ever; a guesser spread over many addresses is stopped; a
  guesser at one address is the lock's, and never guards the account.
- **Address, against every account** (``SignInGuard``): past
  ``ILLDESK_ADDRESS_FAILURES_PER_HOUR`` failures in an hour from one address, that address
  may sign in only to accounts that have signed in from it before.

Only tries of a password (or a code) count: a try refused before that, by a lock or the
guard, tells the guesser nothing and counts for nothing, so knocking at a lock keeps no
limit up. A wrong second-factor code counts as a wrong password. The counts are kept per
account and address in five-minute buckets (``FailedSignIns``), and the places in one row
per account and address (``KnownPlace``), so no attack can make a check read more than a
few dozen rows.
"""

from datetime import datetime, timedelta

from axes.models import AccessLog
from axes.utils import reset as reset_lockout
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.client_address import client_address

from .models import FailedSignIns, KnownPlace, User

WINDOW = timedelta(hours=1)
BUCKET = timedelta(minutes=5)

ACCOUNT_GUARDED = (
    "Too many failed sign-ins to this account from other places in the last hour, so for "
    "now it signs in only where it has signed in before. Try again later from here, or "
    "reset your password by e-mail."
)
ADDRESS_GUARDED = (
    "Too many failed sign-ins from this network in the last hour, so for now it may sign in "
    "only to accounts that have signed in from it before. Try again later."
)


def signed_in(request: HttpRequest, user: User) -> None:
    """Record a sign-in that made no session (an API token) as the login page's are: the
    account's last login, and this address as one of its places."""
    user_logged_in.send(sender=user.__class__, request=request, user=user)


# --- The guard ------------------------------------------------------------------------------


def _bucket(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute - moment.minute % 5, second=0, microsecond=0)


def record_failure(request: HttpRequest | None, username: str) -> None:
    """Count a failed sign-in that tried a password (or a code), by account and address.

    A sign-in refused before any password was tried (locked here, or by the guard) is not
    counted: it tells nobody anything, and counting it would let one address keep an
    account guarded by knocking at its lock.
    """
    if request is None or not getattr(request, "sign_in_password_tried", False):
        return
    address = client_address(request)
    if not username or not address:
        return
    key = {"username": username[:150], "address": address, "bucket": _bucket(timezone.now())}
    counted = FailedSignIns.objects.filter(**key)
    if counted.update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            FailedSignIns.objects.create(**key, count=1)
    except IntegrityError:  # another failure made the row a moment ago
        counted.update(count=F("count") + 1)


def remember_place(request: HttpRequest | None, username: str) -> None:
    """Note that the account signed in from this request's address."""
    address = client_address(request) if request is not None else ""
    if not address:
        return  # a session made by code (a test's force_login), not by a person
    try:
        with transaction.atomic():
            KnownPlace.objects.update_or_create(
                username=username, address=address, defaults={"last_seen": timezone.now()}
            )
    except IntegrityError:
        pass  # the same sign-in, recorded a moment ago by a twin request


def _account_under_attack(username: str, since: datetime) -> bool:
    """At least the limit of failures in the window, from more than one address.

    One address alone never guards an account: the lock at that address stops it. Each
    row counts one or more failures, so the first ``limit`` rows decide; rows of one
    address are at most one per bucket, so a second address is looked for only when the
    limit is below the buckets in an hour.
    """
    limit = settings.ILLDESK_ACCOUNT_FAILURES_PER_HOUR
    recent = FailedSignIns.objects.filter(username=username[:150], bucket__gt=since)
    rows = list(recent.values_list("address", "count")[:limit])
    if sum(count for _, count in rows) < limit:
        return False
    addresses = {address for address, _ in rows}
    return len(addresses) > 1 or recent.exclude(address__in=addresses).exists()


def _address_under_attack(address: str, since: datetime) -> bool:
    limit = settings.ILLDESK_ADDRESS_FAILURES_PER_HOUR
    recent = FailedSignIns.objects.filter(address=address, bucket__gt=since)
    return sum(recent.values_list("count", flat=True)[:limit]) >= limit


def _known(username: str, address: str) -> bool:
    since = timezone.now() - timedelta(days=settings.ILLDESK_KNOWN_ADDRESS_DAYS)
    return KnownPlace.objects.filter(
        username=username, address=address, last_seen__gte=since
    ).exists()


def guard_refusal(request: HttpRequest, username: str) -> str | None:
    """Why a sign-in to ``username`` from this request's address is refused now, if it is."""
    address = client_address(request)
    since = timezone.now() - WINDOW
    if _account_under_attack(username, since):
        reason = ACCOUNT_GUARDED
    elif address and _address_under_attack(address, since):
        reason = ADDRESS_GUARDED
    else:
        return None
    return None if address and _known(username, address) else reason


class SignInGuard:
    """An authentication backend that checks no password: it stops a sign-in the guard
    refuses (``guard_refusal``) before the password is tried, and lets the others pass on
    to the next backend, marking the request as one that tries a password. Listed after
    django-axes' (which refuses a lock before this runs) and before Django's own. It has no
    ``get_user``: no session is ever its own."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None or not username:
            return None
        refusal = guard_refusal(request, username)
        if refusal:
            request.sign_in_refused = refusal
            raise PermissionDenied(refusal)
        request.sign_in_password_tried = True
        return None


@receiver(user_login_failed)
def _count_failure(sender, credentials, request=None, **kwargs):
    record_failure(request, str(credentials.get("username") or ""))


@receiver(user_logged_in)
def _remember_place(sender, request, user, **kwargs):
    remember_place(request, user.get_username())


def forget_old_records(now: datetime | None = None) -> int:
    """Delete counts older than the window, places not seen for
    ``ILLDESK_KNOWN_ADDRESS_DAYS`` and django-axes' log of sign-ins as old; the count."""
    now = now or timezone.now()
    known_since = now - timedelta(days=settings.ILLDESK_KNOWN_ADDRESS_DAYS)
    counts, _ = FailedSignIns.objects.filter(bucket__lte=now - WINDOW - BUCKET).delete()
    places, _ = KnownPlace.objects.filter(last_seen__lt=known_since).delete()
    sign_ins, _ = AccessLog.objects.filter(attempt_time__lt=known_since).delete()
    return counts + places + sign_ins


def forgive(username: str) -> None:
    """Lift every limit on an account: its owner has just set a new password from the
    e-mailed link, so the failures against the old one mean nothing now. That includes
    the authenticator's hold-back after wrong codes (django-otp's), which somebody who knew
    the old password could keep the owner under."""
    reset_lockout(username=username)
    FailedSignIns.objects.filter(username=username[:150]).delete()
    TOTPDevice.objects.filter(user__username=username).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )
