"""The CSV files a service moves in with (docs/go-live.md): regions, member libraries and
staff accounts, as django-import-export resources. The admin's import pages (upload,
preview, confirm) and ``manage.py import`` read files through these same resources.

Each row is checked as the model checks an edit (``full_clean``: the region list, codes,
e-mail); the same file twice changes nothing (unchanged rows are skipped); a changed row
updates its record, with history where the record keeps one; a file with any bad row is
refused whole, each bad row named by its line and field.
"""

from typing import Any

from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets

from .models import MemberLibrary, Region, User


class YesNo(widgets.BooleanWidget):
    """yes/no (and y/n, true/false, 1/0, any case); empty for the field's default; anything
    else refused by its field, where the library's own would read it as "no"."""

    YES = {"yes", "y", "true", "1"}
    NO = {"no", "n", "false", "0"}

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> bool | None:
        text = str(value if value is not None else "").strip().lower()
        if not text:
            return None
        if text in self.YES:
            return True
        if text in self.NO:
            return False
        raise ValueError(f"“{value}” is not yes or no.")


def yes_no(name: str, default: bool) -> fields.Field:
    """A yes/no column; empty means ``default`` (the model's)."""
    return fields.Field(name, name, widget=YesNo(), default=default)


class ByCode(widgets.ForeignKeyWidget):
    """A row's reference to another record by its code; an unknown code is refused by its
    field, in words."""

    def __init__(self, model: Any, field: str, what: str) -> None:
        super().__init__(model, field)
        self.what = what

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        try:
            return super().clean(value, row, **kwargs)
        except self.model.DoesNotExist as error:
            raise ValueError(f"no {self.what} “{value}”.") from error


class ImportResource(resources.ModelResource):
    """What every import shares: checked as an edit is, unchanged rows skipped, and the
    whole file refused (rolled back) when one row is bad."""

    def after_init_instance(self, instance: Any, new: bool, row: Any, **kwargs: Any) -> None:
        # An existing record's yes/no values, which an empty cell keeps (see import_instance).
        instance._yes_no_before = (
            {} if new else {
                field.attribute: getattr(instance, field.attribute)
                for field in self.get_import_fields()
                if isinstance(field.widget, YesNo)
            }
        )  # fmt: skip

    def import_instance(self, instance: Any, row: Any, **kwargs: Any) -> None:
        """The row's values; an empty yes/no cell means the default for a new record and
        keeps an existing one's value (a re-import does not switch a deactivated person
        back on)."""
        super().import_instance(instance, row, **kwargs)
        for attribute, before in getattr(instance, "_yes_no_before", {}).items():
            if not str(row.get(attribute) or "").strip():
                setattr(instance, attribute, before)

    class Meta:
        abstract = True
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True
        # The preview's diff of each row: the admin shows it; the command reads counts.
        skip_diff = False


class RegionResource(ImportResource):
    class Meta(ImportResource.Meta):
        model = Region
        fields = ("name",)
        import_id_fields = ("name",)


class LibraryResource(ImportResource):
    """Member libraries, by ILL code."""

    on_delivery = yes_no("on_delivery", True)
    is_active = yes_no("is_active", True)

    class Meta(ImportResource.Meta):
        model = MemberLibrary
        fields = MemberLibrary.PROFILE_FIELDS
        import_id_fields = ("ill_code",)

    def before_save_instance(self, instance: MemberLibrary, row: Any, **kwargs: Any) -> None:
        instance._change_reason = "Imported from a file"


class StaffResource(ImportResource):
    """Staff accounts, by username: name, e-mail, role and library (by ILL code). A new
    account has no password: its person sets one from an invitation (nobody mails
    passwords)."""

    library = fields.Field(
        "library",
        "library",
        widget=ByCode(MemberLibrary, "ill_code", "member library has the ILL code"),
    )
    is_active = yes_no("is_active", True)
    is_library_lead = yes_no("is_library_lead", False)

    class Meta(ImportResource.Meta):
        model = User
        fields = (
            "username", "first_name", "last_name", "email", "role", "library",
            "is_library_lead", "is_active",
        )  # fmt: skip
        import_id_fields = ("username",)

    def after_init_instance(self, instance: User, new: bool, row: Any, **kwargs: Any) -> None:
        super().after_init_instance(instance, new, row, **kwargs)
        if new:
            instance.set_unusable_password()
        instance._was_admin = not new and (  # type: ignore[attr-defined]
            instance.role == User.Role.ADMIN or instance.is_superuser or instance.is_staff
        )

    def import_instance(self, instance: User, row: Any, **kwargs: Any) -> None:
        """A file makes and changes library staff and the team; never an admin (admins are
        made one by one in the admin site, with their second factor)."""
        super().import_instance(instance, row, **kwargs)
        if instance.username == User.SERVICE_USERNAME:
            raise ValidationError({"username": "This name is the service's own account."})
        if getattr(instance, "_was_admin", False):
            raise ValidationError(
                {"username": "This is an admin's account: change it in the admin site."}
            )
        if instance.role == User.Role.ADMIN:
            raise ValidationError(
                {
                    "role": "A file makes library staff or team members; "
                    "admins are made in the admin site."
                }
            )
