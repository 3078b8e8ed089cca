"""Writes on member libraries' data that more than one page needs."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.checks import Checks, length_limit
from core.text import one_line

from .models import MemberLibrary, Patron, User


def check_patron(
    *, library: MemberLibrary, card_number: str, name: str, lock: bool = False
) -> Patron | None:
    """The library's patron with this card, or None for a new one that can be added.

    Raises ``ValidationError`` (by field) when there is no card number, when the card
    number or name is too long, or when the card is new to the library and no name is
    given. With ``lock`` (inside a transaction) the
    patron's row is locked, so the retention job cannot remove it under a new request.
    """
    checks = Checks()
    card_number = checks.text(
        "card_number",
        one_line(card_number),
        limit=length_limit(Patron, "card_number"),
        required="Enter the patron's library card number.",
    )
    name = checks.text("patron_name", one_line(name), limit=length_limit(Patron, "name"))
    checks.done()
    patrons = Patron.objects.select_for_update() if lock else Patron.objects.all()
    existing = patrons.filter(library=library, card_number=card_number).first()
    if existing is None and not name:
        raise ValidationError(
            {
                "patron_name": [
                    "No patron with this card number at your library yet: "
                    "add their name to register them."
                ]
            }
        )
    return existing


def patron_for_request(*, library: MemberLibrary, patron_id: int) -> Patron:
    """The library's patron with this id, locked (inside the caller's transaction) so the
    retention job cannot remove them under a new request; a field error otherwise."""
    patron = Patron.objects.select_for_update().filter(pk=patron_id, library=library).first()
    if patron is None:
        raise ValidationError({"patron": [f"No patron with this id at {library.ill_code}."]})
    return patron


def find_or_add_patron(
    *,
    library: MemberLibrary,
    card_number: str,
    name: str = "",
    email: str = "",
    homebound: bool = False,
) -> Patron:
    """The library's patron with this card number, added first if the library has none.

    Staff scan or type a card number; a new patron needs a name as well. An existing
    patron is used as recorded (their details are edited elsewhere, not by a request).
    Call inside the caller's transaction, so a request that fails adds no patron.
    """
    card_number = one_line(card_number)
    existing = check_patron(library=library, card_number=card_number, name=name, lock=True)
    if existing is not None:
        return existing
    patron = Patron(
        library=library,
        card_number=card_number,
        name=one_line(name),
        email=email.strip(),
        homebound=homebound,
    )
    try:
        patron.full_clean(validate_constraints=False)
    except ValidationError as exc:
        renamed = {"name": "patron_name", "email": "patron_email"}
        raise ValidationError(
            {renamed.get(field, field): messages for field, messages in exc.message_dict.items()}
        ) from None
    try:
        with transaction.atomic():
            patron.save()
    except IntegrityError:
        # Someone registered the same card a moment ago (a lock cannot cover a row that
        # does not exist yet): use theirs.
        return Patron.objects.select_for_update().get(library=library, card_number=card_number)
    return patron


def service_account() -> User:
    """The account the service acts as where no person does (``User.SERVICE_USERNAME``):
    on the team's side, with no password, so nobody can sign in as it."""
    account, created = User.objects.get_or_create(
        username=User.SERVICE_USERNAME,
        defaults={"role": User.Role.TEAM, "first_name": "illdesk", "last_name": "(the service)"},
    )
    if created:
        account.set_unusable_password()
        account.save(update_fields=["password"])
    return account
