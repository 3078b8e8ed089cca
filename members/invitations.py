"""Inviting staff (docs/go-live.md, "People"): a new account gets an e-mail with a link to
set its own password, single-use and expiring; nobody mails passwords.

The team invites anyone on a library's staff; a library's **lead** invites, re-invites
and deactivates its own library's staff and nobody else's. Each rule is here, once: the
pages and the admin call these functions.
"""

import re

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from core.checks import Checks, length_limit
from core.text import one_line

from .models import MemberLibrary, User


class InvitationTokens(PasswordResetTokenGenerator):
    """An invitation's token: the password-reset kind with a key of its own, so neither
    link works as the other. It dies once a password is set (the hash covers it) and after
    ``PASSWORD_RESET_TIMEOUT``."""

    key_salt = "illdesk.members.invitations.InvitationTokens"

    def _make_hash_value(self, user, timestamp):
        # Deactivating the account ends its invitation too (reactivating does not revive it).
        return f"{super()._make_hash_value(user, timestamp)}{user.is_active}"


invitation_tokens = InvitationTokens()


def can_manage(actor: User, member: User) -> bool:
    """Whether ``actor`` may invite or deactivate ``member``: the team anyone on a
    library's staff (admins anyone but themselves), a library's lead its own library's
    other staff."""
    if not actor.is_active or actor.pk == member.pk or member.username == User.SERVICE_USERNAME:
        return False
    if actor.role == User.Role.ADMIN:
        return True
    if actor.is_team:
        return member.is_library_staff
    return (
        actor.is_library_staff
        and actor.is_library_lead
        and member.is_library_staff
        and not member.is_library_lead  # another lead is the team's to manage
        and member.library_id == actor.library_id
    )


def can_manage_library(actor: User, library: MemberLibrary) -> bool:
    """Whether ``actor`` may invite people to ``library``'s staff."""
    if not actor.is_active:
        return False
    return actor.is_team or (actor.is_library_lead and actor.library_id == library.pk)


def _refuse_unless(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied("You may not manage this person's account.")


def invite_new(
    actor: User, library: MemberLibrary, *, first_name: str, last_name: str, email: str
) -> User:
    """Make an account on ``library``'s staff for this person, with no password, and send
    them an invitation. Refused by field: a name or e-mail missing, too long or not an
    address, or an e-mail another account has."""
    _refuse_unless(can_manage_library(actor, library))
    checks = Checks()
    first_name = checks.text(
        "first_name", one_line(first_name), limit=length_limit(User, "first_name"),
        required="Enter their first name.",
    )  # fmt: skip
    last_name = checks.text(
        "last_name", one_line(last_name), limit=length_limit(User, "last_name"),
        required="Enter their last name.",
    )  # fmt: skip
    email = checks.text(
        "email", one_line(email).lower(), limit=length_limit(User, "email"),
        required="Enter their e-mail address: the invitation goes there.",
    )  # fmt: skip
    if email and not checks.refused("email"):
        try:
            validate_email(email)
        except ValidationError:
            checks.refuse("email", "Enter an e-mail address, like name@library.org.")
        else:
            if User.objects.filter(email__iexact=email).exists():
                checks.refuse("email", "An account has this e-mail address already.")
    checks.done()
    with transaction.atomic():
        member = User(
            username=_free_username(email),
            first_name=first_name,
            last_name=last_name,
            email=email,
            role=User.Role.LIBRARY_STAFF,
            library=library,
        )
        member.set_unusable_password()
        member.save()
        send_invitation(actor, member)
    return member


def _free_username(email: str) -> str:
    """A username from the address (its part before the @), made unique with a number."""
    base = re.sub(r"[^a-z0-9._-]", "", email.split("@")[0].lower())[:140] or "staff"
    taken = set(User.objects.filter(username__startswith=base).values_list("username", flat=True))
    if base not in taken:
        return base
    return next(f"{base}{n}" for n in range(2, len(taken) + 3) if f"{base}{n}" not in taken)


def send_invitation(actor: User, member: User) -> None:
    """E-mail ``member`` a link to set their password (again: a new link, the old one
    still works until it expires or a password is set), and note who invited them when."""
    _refuse_unless(can_manage(actor, member))
    if not member.is_active:
        raise ValidationError("This account is deactivated: reactivate it first.")
    if not member.email:
        raise ValidationError("This account has no e-mail address to send the invitation to.")
    if member.has_usable_password():
        raise ValidationError(
            "They have set their password already: they sign in, or use “Forgot your "
            "password?” on the sign-in page."
        )
    uid = urlsafe_base64_encode(force_bytes(member.pk))
    link = settings.ILLDESK_BASE_URL + reverse(
        "welcome", args=[uid, invitation_tokens.make_token(member)]
    )
    context = {
        "member": member,
        "actor": actor,
        "link": link,
        "days": settings.PASSWORD_RESET_TIMEOUT // 86400,
    }
    send_mail(
        f"You are invited to illdesk, {member.library or 'the resource sharing team'}",
        render_to_string("registration/invitation_email.txt", context),
        None,
        [member.email],
    )
    member.invited_at, member.invited_by = timezone.now(), actor
    User.objects.filter(pk=member.pk).update(invited_at=member.invited_at, invited_by=actor)


def deactivate(actor: User, member: User) -> None:
    """End ``member``'s access: they can no longer sign in, and their API tokens end. The
    account stays, as the requests and events it made point at it."""
    _refuse_unless(can_manage(actor, member))
    member.is_active = False
    changed = ["is_active"]
    if not member.has_usable_password():
        # A new unusable password: the invitation the person has not used yet dies for
        # good, even if the account is switched on again.
        member.set_unusable_password()
        changed.append("password")
    member.save(update_fields=changed)
