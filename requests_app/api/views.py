"""The API for borrowing requests: ``/api/v1/requests/`` and one endpoint per action.

The same selectors scope what a caller sees (another library's request is a 404), and the
same ``page_actions`` table performs each action through the workflow or a service, so the
API and the pages cannot disagree. Refusals become HTTP answers in ``core.api``.
"""

from django.core.exceptions import ValidationError
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from core.api import ACTION_ERRORS, READ_ERRORS, WRITE_ERRORS, field_errors

from .. import selectors, services, workflow
from ..models import BorrowingRequest
from ..web.actions import BY_SLUG
from . import serializers as s
from .filters import ApiRequestFilter

#: The input each action endpoint reads, by its page slug (and URL segment).
ACTION_INPUT = {
    "receive": s.ReceiveSerializer,
    "request-renewal": s.RenewalRequestSerializer,
    "return": s.ReturnSerializer,
    "not-arrived": s.NoteSerializer,
    "cancel": s.CancelSerializer,
    "start-sourcing": s.NoteSerializer,
    "send-to-lender": s.SendToLenderSerializer,
    "lender-unfilled": s.ReasonSerializer,
    "ship": s.ShipSerializer,
    "answer-renewal": s.AnswerRenewalSerializer,
    "mark-unfilled": s.ReasonSerializer,
    "mark-lost": s.NoteSerializer,
    "complete": s.NoteSerializer,
    "assign": s.AssignSerializer,
    "max-cost": s.MaxCostSerializer,
}

#: How the services name a new patron's fields, and their names inside ``patron``.
_PATRON_FIELDS = {"card_number": "card_number", "patron_name": "name", "patron_email": "email"}


def _patron_errors_nested(errors: dict) -> dict:
    """A new patron's field errors under ``patron``, as the serializer nests its own."""
    nested = {_PATRON_FIELDS[key]: errors.pop(key) for key in list(errors) if key in _PATRON_FIELDS}
    if nested:
        errors["patron"] = nested
    return errors


@extend_schema_view(
    list=extend_schema(
        summary="List requests",
        description="Newest first, every status unless `status` is given. Library staff "
        "see their own library's requests; the team sees all.",
        responses={200: s.RequestSerializer(many=True), 400: WRITE_ERRORS[400], **READ_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One request", responses={200: s.RequestSerializer, **READ_ERRORS}
    ),
)
class RequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.RequestSerializer
    filterset_class = ApiRequestFilter

    def get_queryset(self):
        if self.action in ("list", "retrieve"):
            return selectors.requests_in_full(self.request.user)
        return selectors.requests_visible_to(self.request.user)

    def filter_queryset(self, queryset):
        # The filters are the list's; one request is found by its id alone.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def _shown(self, request_id: int, http_status: int = status.HTTP_200_OK) -> Response:
        req = selectors.requests_in_full(self.request.user).get(pk=request_id)
        data = s.RequestSerializer(req, context=self.get_serializer_context()).data
        return Response(data, status=http_status)

    @extend_schema(
        summary="Submit a request",
        request=s.NewRequestSerializer,
        responses={201: s.RequestSerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "A book for a patron, by card",
                request_only=True,
                value={
                    "library": "ABBOT",
                    "patron": {"card_number": "21234000111", "name": "Pat Reader"},
                    "format": "book",
                    "title": "The Wampanoag Way",
                    "author": "Ann Peters",
                    "isbn": "978-0-306-40615-7",
                    "edition_only": False,
                    "notes": "Any edition will do.",
                },
            )
        ],
    )
    def create(self, request):
        given = s.NewRequestSerializer(data=request.data, context={"request": request})
        given.is_valid(raise_exception=True)
        data = given.validated_data
        fields = {
            "actor": request.user,
            "library": data["library"],
            "citation": {name: data[name] for name in workflow.CITATION_FIELDS if name in data},
            "needed_by": data.get("needed_by"),
            "max_cost": data.get("max_cost"),
            "notes": data.get("notes", ""),
        }
        patron = data["patron"]
        try:
            if isinstance(patron, int):
                req = services.submit_for_patron(patron_id=patron, **fields)
            else:
                req = services.submit_for_card(
                    card_number=patron["card_number"],
                    patron_name=patron["name"],
                    patron_email=patron["email"],
                    homebound=patron["homebound"],
                    **fields,
                )
        except ValidationError as error:
            return Response(_patron_errors_nested(field_errors(error)), status=400)
        response = self._shown(req.pk, status.HTTP_201_CREATED)
        response["Location"] = reverse("api:request-detail", args=[req.pk])
        return response

    @extend_schema(
        summary="The request's timeline, oldest first",
        responses={200: s.EventSerializer(many=True), **READ_ERRORS},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def events(self, request, pk=None):
        req = self.get_object()
        events = req.events.select_related("actor").order_by("at", "id")
        return Response(s.EventSerializer(events, many=True).data)

    @extend_schema(
        methods=["GET"],
        summary="The request's charges",
        responses={200: s.ChargeSerializer(many=True), **READ_ERRORS},
    )
    @extend_schema(
        methods=["POST"],
        summary="Record a charge (the team)",
        request=s.NewChargeSerializer,
        responses={201: s.ChargeSerializer, **ACTION_ERRORS},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def charges(self, request, pk=None):
        req = self.get_object()
        if request.method == "GET":
            charges = req.charges.select_related("created_by")
            return Response(s.ChargeSerializer(charges, many=True).data)
        charge = self._perform("add-charge", req, s.NewChargeSerializer)
        return Response(s.ChargeSerializer(charge).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        summary="Messages between the library and the team",
        responses={200: s.MessageSerializer(many=True), **READ_ERRORS},
    )
    @extend_schema(
        methods=["POST"],
        summary="Send a message",
        request=s.NewMessageSerializer,
        responses={201: s.MessageSerializer, **ACTION_ERRORS},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def messages(self, request, pk=None):
        req = self.get_object()
        if request.method == "GET":
            return Response(
                s.MessageSerializer(req.messages.select_related("author"), many=True).data
            )
        message = self._perform("message", req, s.NewMessageSerializer)
        return Response(s.MessageSerializer(message).data, status=status.HTTP_201_CREATED)

    def _perform(self, slug: str, req: BorrowingRequest, input_serializer):
        """Check the role and the status, read the input, and do the page action ``slug``.

        The checks come first, as the workflow makes them (it repeats them under the row
        lock), so a move the status does not allow is a 409 whatever the input.
        """
        page_action = BY_SLUG[slug]
        if page_action.move:
            workflow.check_move(req, page_action.move, self.request.user)
        elif not page_action.permitted(req, self.request.user):
            raise PermissionDenied("Only the resource sharing team may do this.")
        given = input_serializer(data=self.request.data, context={"request": self.request})
        given.is_valid(raise_exception=True)
        return page_action.perform(req.pk, self.request.user, dict(given.validated_data))

    def act(self, request, slug: str):
        req = self.get_object()
        self._perform(slug, req, ACTION_INPUT[slug])
        return self._shown(req.pk)


def _action_endpoint(slug: str):
    """``POST /api/v1/requests/{id}/{slug}/``: one endpoint per action, in the schema too."""
    page_action = BY_SLUG[slug]

    def endpoint(self, request, pk=None):
        return self.act(request, slug)

    endpoint.__name__ = slug.replace("-", "_")
    endpoint = action(detail=True, methods=["post"], url_path=slug, url_name=slug)(endpoint)
    return extend_schema(
        summary=page_action.button,
        description=page_action.done,
        request=ACTION_INPUT[slug],
        responses={
            200: OpenApiResponse(s.RequestSerializer, description="The request, as it is now."),
            **ACTION_ERRORS,
        },
    )(endpoint)


for _slug in ACTION_INPUT:
    setattr(RequestViewSet, _slug.replace("-", "_"), _action_endpoint(_slug))
