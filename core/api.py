"""What every API view shares: how refusals become HTTP answers, how lists are paged, and
the shapes of error bodies (so the OpenAPI schema documents them).

The workflow and services raise Django ``ValidationError`` (by field) and ``WorkflowError``;
``exception_handler`` turns them into 400 with field errors, 403, or 409 with the current
status, exactly as the HTML views turn them into messages.
"""

from typing import Any, TypeVar, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import NotPermitted, WorkflowError
from .pagination import MAX_PAGE, MAX_PAGE_SIZE, PAGE_SIZE, UncountedPage, page_of

_M = TypeVar("_M", bound=Model)
_Row = TypeVar("_Row")


def field_errors(error: DjangoValidationError) -> dict[str, list[str]]:
    """A Django ``ValidationError`` as DRF's body: ``{field: [messages]}``, with errors that
    name no field under ``non_field_errors``."""
    if not hasattr(error, "error_dict"):
        return {"non_field_errors": error.messages}
    body: dict[str, list[str]] = {}
    for field, messages in error.message_dict.items():
        body.setdefault("non_field_errors" if field == "__all__" else field, []).extend(messages)
    return body


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus the domain's refusals: a bad value is a 400 with field errors, a
    role that may not act a 403, a move the status does not allow a 409 naming the status."""
    if isinstance(exc, DjangoValidationError):
        return Response(field_errors(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, NotPermitted):
        return Response({"detail": exc.message}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, WorkflowError):
        return Response(
            {"detail": exc.message, "status": exc.status}, status=status.HTTP_409_CONFLICT
        )
    return drf_exception_handler(exc, context)


class UncountedPagination(BasePagination):
    """``?page=`` and ``?page_size=`` (1 to 500), without counting the whole list.

    The body is ``{"page", "page_size", "next", "previous", "results"}``; ``next`` is null
    on the last page. One query fetches a row more than the page holds to know whether
    there is a next page, so a list of a million requests costs what its page costs.
    """

    request: Request
    page: UncountedPage[Any]

    def paginate_queryset(
        self, queryset: QuerySet[_M, _Row], request: Request, view: APIView | None = None
    ) -> list[_Row]:
        self.request = request
        # The API pages model rows (``page_of`` reads their pk), never ``values()`` rows.
        self.page = page_of(request, cast("QuerySet[_M]", queryset))
        return self.page.object_list

    def get_paginated_response(self, data: Any) -> Response:
        url = self.request.build_absolute_uri()
        page = self.page
        previous = None
        if page.has_previous:
            previous = (
                replace_query_param(url, "page", page.number - 1)
                if page.number > 2
                else remove_query_param(url, "page")
            )
        return Response(
            {
                "page": page.number,
                "page_size": page.page_size,
                "next": replace_query_param(url, "page", page.number + 1)
                if page.has_next
                else None,
                "previous": previous,
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["page", "page_size", "next", "previous", "results"],
            "properties": {
                "page": {"type": "integer", "minimum": 1},
                "page_size": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                "next": link,
                "previous": link,
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "description": f"Page number, from 1 to {MAX_PAGE:,}: deeper than that, "
                "narrow the list with a filter.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            },
            {
                "name": "page_size",
                "in": "query",
                "required": False,
                "description": f"Rows a page, 1 to {MAX_PAGE_SIZE} (default {PAGE_SIZE}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            },
        ]


# --- Error bodies, for the schema -------------------------------------------------------

DETAIL = inline_serializer("Detail", {"detail": serializers.CharField()})
CONFLICT = inline_serializer(
    "Conflict",
    {
        "detail": serializers.CharField(help_text="Why not, naming the current status."),
        "status": serializers.CharField(help_text="The request's current status."),
    },
)
FIELD_ERRORS = inline_serializer(
    "FieldErrors",
    {
        "non_field_errors": serializers.ListField(child=serializers.CharField(), required=False),
    },
)

#: The answers every authenticated endpoint may give besides its own.
UNAUTHORIZED = {
    401: OpenApiResponse(DETAIL, description="No or bad credentials."),
    429: OpenApiResponse(DETAIL, description="Too many calls: wait the Retry-After seconds."),
}
READ_ERRORS = {
    **UNAUTHORIZED,
    403: OpenApiResponse(DETAIL, description="This role may not use it."),
    404: OpenApiResponse(DETAIL, description="Not found, or not yours to see."),
}
WRITE_ERRORS = {
    **READ_ERRORS,
    400: OpenApiResponse(FIELD_ERRORS, description="Bad input: messages by field."),
}
ACTION_ERRORS = {
    **WRITE_ERRORS,
    409: OpenApiResponse(CONFLICT, description="The request's status does not allow it now."),
}
