"""Forms for the lender directory. They read and tidy input; ``lenders.services`` checks
the rules and writes, and the views put its errors back on these fields."""

from django import forms

from core.checks import near_today
from core.forms import ANY_YES_NO, DATE, YES_NO, WorkflowForm

from .models import AvailabilityReport, Lender


def _yes(value: str) -> bool:
    return value == "yes"


class LenderSearchForm(forms.Form):
    q = forms.CharField(
        label="Name or OCLC symbol",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    kind = forms.ChoiceField(
        label="Kind", choices=[("", "Any kind"), *Lender.Kind.choices], required=False
    )
    fees = forms.ChoiceField(label="Charges fees", choices=ANY_YES_NO, required=False)

    def charges_fees(self) -> bool | None:
        """The "charges fees" filter: True, False, or None for either."""
        value = self.cleaned_data.get("fees")
        return None if not value else value == "yes"


class LenderAvailabilitySearchForm(forms.Form):
    """The library's search of lenders' availability: a name or symbol, and returns."""

    q = forms.CharField(
        label="Name or OCLC symbol",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    returns = forms.ChoiceField(
        label="Returns",
        choices=[
            ("", "Any"),
            ("accepting", "Accepting returns"),
            ("not_accepting", "Not accepting returns"),
        ],
        required=False,
    )

    def accepting_returns(self) -> bool | None:
        """The "returns" filter: True, False, or None for either."""
        value = self.cleaned_data.get("returns")
        return None if not value else value == "accepting"


class AvailabilityReportForm(WorkflowForm):
    """A new availability report: what the lender says now."""

    lending = forms.TypedChoiceField(
        label="Lending to us?",
        choices=YES_NO,
        coerce=_yes,
        initial="yes",
        widget=forms.RadioSelect,
    )
    accepting_returns = forms.TypedChoiceField(
        label="Accepting returns?",
        choices=YES_NO,
        coerce=_yes,
        initial="yes",
        widget=forms.RadioSelect,
    )
    closed_from = forms.DateField(
        label="Closed from (optional)",
        required=False,
        widget=DATE,
        validators=[near_today],
        help_text="The first day the lender is closed.",
    )
    closed_until = forms.DateField(
        label="Closed until (optional)",
        required=False,
        widget=DATE,
        validators=[near_today],
        help_text="The last day closed; leave empty when the lender has not said.",
    )
    source = forms.CharField(
        label="Source",
        max_length=AvailabilityReport._meta.get_field("source").max_length,
        required=False,
        help_text="Where this came from: an e-mail, the OCLC policies directory, a phone call…",
    )
    note = forms.CharField(
        label="Note (optional)",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Member libraries read this note beside the lender's word on returns "
        "and lending: say what the lender said, not the service's own business with it.",
    )
