"""The API for borrowing requests: ``/api/v1/requests/`` and one endpoint per action.

The same selectors scope what a caller sees (another library's request is a 404), and each
action endpoint is a method of its own that calls the one workflow or service function the
page calls too, so the API and the pages cannot disagree. Its words come from the workflow
(``MOVES``), not from the pages' buttons. Refusals become HTTP answers in ``core.api``.
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
from members.access import signed_in_user

from .. import corrections, flags, selectors, services, sourcing, traces, workflow
from ..duplicates import DuplicateRefusal
from ..timeline import TEAM_ONLY_EVENTS
from . import serializers as s
from .filters import ApiRequestFilter

#: How the services name a new patron's fields, and their names inside ``patron``.
_PATRON_FIELDS = {"card_number": "card_number", "patron_name": "name", "patron_email": "email"}


def _patron_errors_nested(errors: dict) -> dict:
    """A new patron's field errors under ``patron``, as the serializer nests its own."""
    nested = {_PATRON_FIELDS[key]: errors.pop(key) for key in list(errors) if key in _PATRON_FIELDS}
    if nested:
        errors["patron"] = nested
    return errors


#: What every action endpoint answers: the request as it is now, or why not.
ACTION_RESPONSES = {
    200: OpenApiResponse(s.RequestSerializer, description="The request, as it is now."),
    **ACTION_ERRORS,
}


def move_endpoint(move: str, input_serializer, description: str):
    """A workflow move's endpoint, named and described from the workflow (``MOVES``)."""
    slug, label = workflow.MOVES[move].slug, workflow.MOVES[move].label

    def decorate(method):
        method = action(detail=True, methods=["post"], url_path=slug, url_name=slug)(method)
        return extend_schema(
            summary=label[:1].upper() + label[1:],
            description=description,
            request=input_serializer,
            responses=ACTION_RESPONSES,
        )(method)

    return decorate


def team_endpoint(slug: str, input_serializer, summary: str):
    """An endpoint for a team's write on a request that is not a move."""

    def decorate(method):
        method = action(detail=True, methods=["post"], url_path=slug, url_name=slug)(method)
        return extend_schema(
            summary=f"{summary} (the team)", request=input_serializer, responses=ACTION_RESPONSES
        )(method)

    return decorate


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
        description="Refused with a 400 on `duplicate_reason`, listing the library's open "
        "requests for the same item under `duplicates`, unless `duplicate_reason` says why "
        "to submit it all the same.",
        request=s.NewRequestSerializer,
        responses={
            201: s.RequestSerializer,
            **WRITE_ERRORS,
            400: OpenApiResponse(
                s.SubmissionErrorsSerializer,
                description="Bad input: messages by field; the open requests for the same "
                "item under duplicates.",
            ),
        },
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
            "duplicate_reason": data.get("duplicate_reason", ""),
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
            body: dict = _patron_errors_nested(field_errors(error))
            if isinstance(error, DuplicateRefusal):
                body["duplicates"] = s.DuplicateSerializer(error.duplicates, many=True).data
            return Response(body, status=400)
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
        if not signed_in_user(request).is_team:
            events = events.exclude(action__in=TEAM_ONLY_EVENTS)
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
            charges = req.charges.select_related("created_by", "voided_by")
            return Response(s.ChargeSerializer(charges, many=True).data)
        req, data = self._input(None, s.NewChargeSerializer, team_only=True)
        charge = services.add_charge(req.pk, actor=request.user, **data)
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
        req, data = self._input(None, s.NewMessageSerializer)
        message = services.post_message(req.pk, actor=request.user, body=data["body"])
        return Response(s.MessageSerializer(message).data, status=status.HTTP_201_CREATED)

    # --- The actions: one endpoint each, ``POST /api/v1/requests/{id}/{slug}/`` -----------
    # Each reads its input, then calls its one workflow or service function. The role and
    # the status are checked first (the workflow checks them again under the row lock), so
    # a move the status does not allow is a 409 whatever the input.

    def _input(self, move: str | None, serializer_class, *, team_only: bool = False):
        """The request (scoped to the caller: another library's is a 404), after checking
        that the caller may take ``move`` now, and the action's input, read."""
        req = self.get_object()
        user = signed_in_user(self.request)
        if move is not None:
            workflow.check_move(req, move, user)
        elif team_only:
            self._team_only()
        given = serializer_class(data=self.request.data, context={"request": self.request})
        given.is_valid(raise_exception=True)
        return req, given.validated_data

    @move_endpoint("mark_received", s.ReceiveSerializer, "Today when `received_on` is left out.")
    def receive(self, request, pk=None):
        req, data = self._input("mark_received", s.ReceiveSerializer)
        workflow.mark_received(req.pk, actor=request.user, received_on=data["received_on"])
        return self._shown(req.pk)

    @move_endpoint("request_renewal", s.RenewalRequestSerializer, "Asks for a later due date.")
    def request_renewal(self, request, pk=None):
        req, data = self._input("request_renewal", s.RenewalRequestSerializer)
        workflow.request_renewal(req.pk, actor=request.user, due_date=data["due_date"])
        return self._shown(req.pk)

    @move_endpoint(
        "withdraw_renewal", s.NoteSerializer, "The loan keeps its due date; the team is told."
    )
    def withdraw_renewal(self, request, pk=None):
        req, data = self._input("withdraw_renewal", s.NoteSerializer)
        workflow.withdraw_renewal(req.pk, actor=request.user, note=data["note"])
        return self._shown(req.pk)

    @move_endpoint(
        "mark_returned",
        s.ReturnSerializer,
        "By Delivery, or by mail with tracking. A pending renewal is withdrawn.",
    )
    def mark_returned(self, request, pk=None):
        req, data = self._input("mark_returned", s.ReturnSerializer)
        workflow.mark_returned(
            req.pk,
            actor=request.user,
            method=data["method"],
            tracking_number=data["tracking_number"],
        )
        return self._shown(req.pk)

    @move_endpoint(
        "report_not_arrived",
        s.NoteSerializer,
        "Once the days its shipping method allows have passed; the team is told once.",
    )
    def report_not_arrived(self, request, pk=None):
        req, data = self._input("report_not_arrived", s.NoteSerializer)
        traces.report_not_arrived(req.pk, actor=request.user, note=data["note"])
        return self._shown(req.pk)

    @move_endpoint("cancel", s.CancelSerializer, "Before it ships.")
    def cancel(self, request, pk=None):
        req, data = self._input("cancel", s.CancelSerializer)
        workflow.cancel(req.pk, actor=request.user, reason=data["reason"])
        return self._shown(req.pk)

    @move_endpoint("start_sourcing", s.NoteSerializer, "Assigned to the caller if unassigned.")
    def start_sourcing(self, request, pk=None):
        req, data = self._input("start_sourcing", s.NoteSerializer)
        workflow.start_sourcing(req.pk, actor=request.user, note=data["note"])
        return self._shown(req.pk)

    @move_endpoint("send_to_lender", s.SendToLenderSerializer, "Records the lender attempt.")
    def send_to_lender(self, request, pk=None):
        req, data = self._input("send_to_lender", s.SendToLenderSerializer)
        workflow.send_to_lender(
            req.pk,
            actor=request.user,
            lender=data["lender"],
            lender_request_number=data["lender_request_number"],
        )
        return self._shown(req.pk)

    @move_endpoint("lender_unfilled", s.ReasonSerializer, "Back to sourcing, with the reason.")
    def lender_unfilled(self, request, pk=None):
        req, data = self._input("lender_unfilled", s.ReasonSerializer)
        workflow.lender_unfilled(req.pk, actor=request.user, reason=data["reason"])
        return self._shown(req.pk)

    def _string_shown(self, req) -> Response:
        req.refresh_from_db(fields=["status", "lender", "string_exhausted_at"])
        shown = {
            "status": req.status,
            "lender": req.lender_id,
            "string_exhausted": flags.STRING_EXHAUSTED.carried_by(req),
            "lenders": selectors.lender_string(req),
        }
        return Response(s.LenderStringViewSerializer(shown).data)

    @extend_schema(
        methods=["GET"],
        summary="The request's lender string (the team)",
        responses={200: s.LenderStringViewSerializer, **READ_ERRORS},
    )
    @extend_schema(
        methods=["POST"],
        summary="Set a lender string (the team)",
        description="Up to five lenders, tried in order. A request being sourced goes to "
        "the first that can take it at once; one with a lender keeps it, and the string "
        "is who comes next when it cannot supply. Closed or not-lending lenders are "
        "skipped with a note; when the string runs out the request comes back to the "
        "team, flagged `string_exhausted`. `[]` clears the string.",
        request=s.LenderStringSerializer,
        responses={200: s.LenderStringViewSerializer, **ACTION_ERRORS},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="lender-string",
        url_name="lender-string",
        pagination_class=None,
        filter_backends=[],
    )
    def lender_string(self, request, pk=None):
        if request.method == "GET":
            return self._string_shown(self._team_only())
        req, data = self._input("set_lender_string", s.LenderStringSerializer)
        workflow.set_lender_string(
            req.pk, actor=request.user, lenders=data["lenders"], note=data["note"]
        )
        return self._string_shown(req)

    @extend_schema(
        summary="Lenders to ask, ranked (the team)",
        description="The lenders best placed to supply this request, best first, each with "
        "its reasons in words and the points each adds: supplied this item before, fill "
        "rate, speed and usual cost for this format over the last year, lending now, the "
        "Delivery route. See docs/sourcing.md.",
        responses={200: s.SuggestionSerializer(many=True), **READ_ERRORS},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="suggested-lenders",
        url_name="suggested-lenders",
        pagination_class=None,
        filter_backends=[],
    )
    def suggested_lenders(self, request, pk=None):
        req = self._team_only()
        return Response(s.SuggestionSerializer(sourcing.suggested_lenders(req), many=True).data)

    def _team_only(self):
        """The request (scoped to the caller), for the team only: anyone else a 403."""
        req = self.get_object()
        if not signed_in_user(self.request).is_team:
            raise PermissionDenied("Only the resource sharing team may do this.")
        return req

    @move_endpoint("ship", s.ShipSerializer, "The lender's shipment, with its due date.")
    def ship(self, request, pk=None):
        req, data = self._input("ship", s.ShipSerializer)
        workflow.ship(
            req.pk,
            actor=request.user,
            shipped_on=data["shipped_on"],
            due_date=data["due_date"],
            method=data["method"],
            tracking_number=data["tracking_number"],
        )
        return self._shown(req.pk)

    @move_endpoint("answer_renewal", s.AnswerRenewalSerializer, "Approved moves the due date.")
    def answer_renewal(self, request, pk=None):
        req, data = self._input("answer_renewal", s.AnswerRenewalSerializer)
        workflow.answer_renewal(
            req.pk,
            actor=request.user,
            approved=data["approved"],
            due_date=data["due_date"],
            note=data["note"],
        )
        return self._shown(req.pk)

    @move_endpoint("complete", s.NoteSerializer, "The lender checked the item back in.")
    def complete(self, request, pk=None):
        req, data = self._input("complete", s.NoteSerializer)
        workflow.complete(req.pk, actor=request.user, note=data["note"])
        return self._shown(req.pk)

    @move_endpoint(
        "mark_unfilled", s.ReasonSerializer, "No lender can supply it: the request ends unfilled."
    )
    def mark_unfilled(self, request, pk=None):
        req, data = self._input("mark_unfilled", s.ReasonSerializer)
        workflow.mark_unfilled(req.pk, actor=request.user, reason=data["reason"])
        return self._shown(req.pk)

    @move_endpoint("mark_lost", s.NoteSerializer, "The loan ends lost.")
    def mark_lost(self, request, pk=None):
        req, data = self._input("mark_lost", s.NoteSerializer)
        workflow.mark_lost(req.pk, actor=request.user, note=data["note"])
        return self._shown(req.pk)

    # --- A loan that has not arrived (``requests_app.traces``) ----------------------------

    @move_endpoint(
        "trace", s.TraceSerializer, "The team contacted the lender; says what it learned."
    )
    def trace(self, request, pk=None):
        req, data = self._input("trace", s.TraceSerializer)
        traces.trace(req.pk, actor=request.user, note=data["note"])
        return self._shown(req.pk)

    @move_endpoint(
        "replacement_shipped",
        s.ReplacementSerializer,
        "A new shipment; the first stays in history.",
    )
    def replacement_shipped(self, request, pk=None):
        req, data = self._input("replacement_shipped", s.ReplacementSerializer)
        traces.replacement_shipped(
            req.pk,
            actor=request.user,
            shipped_on=data["shipped_on"],
            due_date=data["due_date"],
            method=data["method"],
            tracking_number=data["tracking_number"],
            note=data["note"],
        )
        return self._shown(req.pk)

    @move_endpoint("cleared", s.ClearedSerializer, "It turned up: received, the trace ends.")
    def cleared(self, request, pk=None):
        req, data = self._input("cleared", s.ClearedSerializer)
        traces.cleared(
            req.pk, actor=request.user, received_on=data["received_on"], note=data["note"]
        )
        return self._shown(req.pk)

    # --- Corrections (``requests_app.corrections``) ---------------------------------------

    @move_endpoint(
        "edit_item",
        s.EditItemSerializer,
        "The fields given change (the team until the request ends; the library while it is "
        "submitted).",
    )
    def edit_item(self, request, pk=None):
        req, data = self._input("edit_item", s.EditItemSerializer)
        corrections.edit_item(req.pk, actor=request.user, citation=dict(data))
        return self._shown(req.pk)

    @move_endpoint(
        "correct_shipment", s.CorrectShipmentSerializer, "The fields given change; checked anew."
    )
    def correct_shipment(self, request, pk=None):
        req, data = self._input("correct_shipment", s.CorrectShipmentSerializer)
        corrections.correct_shipment(req.pk, actor=request.user, **data)
        return self._shown(req.pk)

    @move_endpoint("correct_receipt", s.CorrectReceiptSerializer, "The day it arrived.")
    def correct_receipt(self, request, pk=None):
        req, data = self._input("correct_receipt", s.CorrectReceiptSerializer)
        corrections.correct_receipt(req.pk, actor=request.user, **data)
        return self._shown(req.pk)

    @move_endpoint(
        "correct_return", s.CorrectReturnSerializer, "The fields given change; checked anew."
    )
    def correct_return(self, request, pk=None):
        req, data = self._input("correct_return", s.CorrectReturnSerializer)
        corrections.correct_return(req.pk, actor=request.user, **data)
        return self._shown(req.pk)

    @move_endpoint(
        "reopen",
        s.ReasonSerializer,
        "Takes back the last step (marked received, returned or lost by mistake).",
    )
    def reopen(self, request, pk=None):
        req, data = self._input("reopen", s.ReasonSerializer)
        corrections.reopen(req.pk, actor=request.user, reason=data["reason"])
        return self._shown(req.pk)

    @extend_schema(
        summary="Request it again",
        description="A new request for the same item and patron, linked to this unfilled "
        "one (its `follows`). Answers the new request.",
        request=None,
        responses={201: s.RequestSerializer, **ACTION_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="request-again", url_name="request-again")
    def request_again(self, request, pk=None):
        req = self.get_object()
        workflow.check_move(req, "request_again", signed_in_user(request))
        again = workflow.request_again(req.pk, actor=request.user)
        response = self._shown(again.pk, status.HTTP_201_CREATED)
        response["Location"] = reverse("api:request-detail", args=[again.pk])
        return response

    # --- The ledger ------------------------------------------------------------------------

    @team_endpoint("void-charge", s.VoidChargeSerializer, "Void a charge by a reversing entry")
    def void_charge(self, request, pk=None):
        req, data = self._input(None, s.VoidChargeSerializer, team_only=True)
        services.void_charge(
            req.pk, actor=request.user, charge_id=data["charge"], reason=data["reason"]
        )
        return self._shown(req.pk)

    @team_endpoint("charge-invoiced", s.ChargeInvoicedSerializer, "Record when a charge was billed")
    def charge_invoiced(self, request, pk=None):
        req, data = self._input(None, s.ChargeInvoicedSerializer, team_only=True)
        services.charge_invoiced(
            req.pk, actor=request.user, charge_id=data["charge"], invoiced_on=data["invoiced_on"]
        )
        return self._shown(req.pk)

    @team_endpoint("charge-paid", s.ChargePaidSerializer, "Record when a charge was paid")
    def charge_paid(self, request, pk=None):
        req, data = self._input(None, s.ChargePaidSerializer, team_only=True)
        services.charge_paid(
            req.pk, actor=request.user, charge_id=data["charge"], paid_on=data["paid_on"]
        )
        return self._shown(req.pk)

    @team_endpoint("assign", s.AssignSerializer, "Give the request to a team member")
    def assign(self, request, pk=None):
        req, data = self._input(None, s.AssignSerializer, team_only=True)
        services.assign(req.pk, actor=request.user, assignee=data["assignee"])
        return self._shown(req.pk)

    @team_endpoint("max-cost", s.MaxCostSerializer, "Set the request's max cost")
    def set_max_cost(self, request, pk=None):
        req, data = self._input(None, s.MaxCostSerializer, team_only=True)
        services.set_max_cost(
            req.pk, actor=request.user, max_cost=data["max_cost"], reason=data["reason"]
        )
        return self._shown(req.pk)


@extend_schema_view(
    list=extend_schema(
        summary="Items received but not requested",
        description="Newest first; `?open=true` for those not resolved yet, oldest first. "
        "Library staff see their own library's reports; the team sees all.",
        responses={200: s.UnrequestedItemSerializer(many=True), **READ_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One report", responses={200: s.UnrequestedItemSerializer, **READ_ERRORS}
    ),
)
class UnrequestedItemViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Reports of items libraries received unasked, and the team's resolution of each."""

    serializer_class = s.UnrequestedItemSerializer
    filter_backends: list = []

    def get_queryset(self):
        reports = selectors.unrequested_items_visible_to(self.request.user)
        if self.action == "list" and self.request.query_params.get("open") == "true":
            reports = reports.filter(resolved_at__isnull=True).order_by("created_at", "id")
        return reports

    @extend_schema(
        summary="Report an item received unasked (library staff)",
        request=s.NewUnrequestedItemSerializer,
        responses={201: s.UnrequestedItemSerializer, **WRITE_ERRORS},
    )
    def create(self, request):
        given = s.NewUnrequestedItemSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        report = services.report_unrequested_item(actor=request.user, **given.validated_data)
        shown = self.get_queryset().get(pk=report.pk)
        return Response(s.UnrequestedItemSerializer(shown).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Resolve a report (the team)",
        description="Matched to a request, sent on to the library it belongs to, or returned "
        "to the lender; the note tells the library what to do with the item.",
        request=s.ResolveSerializer,
        responses={200: s.UnrequestedItemSerializer, **ACTION_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        report = self.get_object()
        if not signed_in_user(request).is_team:
            raise PermissionDenied("Only the resource sharing team resolves these reports.")
        given = s.ResolveSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        services.resolve_unrequested_item(
            report.pk,
            actor=request.user,
            outcome=data["outcome"],
            note=data["note"],
            request_id=data["request"],
            send_to=data["send_to"],
            returned_to=data["returned_to"],
        )
        return Response(s.UnrequestedItemSerializer(self.get_queryset().get(pk=report.pk)).data)
