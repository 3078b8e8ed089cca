"""The API's list filters: the queue's, plus the flags as yes/no parameters."""

import django_filters

from core.forms import TRUE_FALSE

from .. import flags, selectors
from ..web.filters import QueueFilter


class ApiRequestFilter(QueueFilter):
    """``GET /api/v1/requests/``: the queue's filters, plus the flags as yes/no parameters
    and the patron's card. With no ``status`` it lists every status, newest first, as the
    portal does; the caller sees only what ``selectors.requests_visible_to`` lets them."""

    default_status = "all"
    default_sort = "newest"

    not_arrived = django_filters.ChoiceFilter(
        label="Flagged not arrived", choices=TRUE_FALSE, method="filter_flag_yes_no"
    )
    overdue = django_filters.ChoiceFilter(
        label="Overdue", choices=TRUE_FALSE, method="filter_flag_yes_no"
    )
    over_max_cost = django_filters.ChoiceFilter(
        label="Charges above the max cost", choices=TRUE_FALSE, method="filter_flag_yes_no"
    )
    patron = django_filters.CharFilter(
        label="Patron's card number", method="filter_patron", max_length=40
    )

    def __init__(self, data=None, queryset=None, *, request=None, **kwargs):
        super().__init__(data, queryset, request=request, user=getattr(request, "user", None))

    def filter_flag_yes_no(self, queryset, name, value):
        condition = flags.LIST_FLAGS[name].condition()
        return queryset.filter(condition) if value == "true" else queryset.exclude(condition)

    def filter_patron(self, queryset, name, value):
        return selectors.for_patron_card(queryset, value)

    def filter_text(self, queryset, name, value):
        # Library staff search as the portal does; the team as the queue does.
        return selectors.search(queryset, value, team=bool(self.user and self.user.is_team))
