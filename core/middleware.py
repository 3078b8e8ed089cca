"""Every answer under ``/api/`` is JSON, as the OpenAPI schema says, errors included.

DRF answers JSON for what reaches its views. What does not reach them is answered by
Django: an address no route matches (``/api/v1/requests/0.5/``, ``/api/v2/``) is its 404
page, with the debug page in its place when ``DEBUG`` is on, and so are its 400 and 500
pages. This middleware, outermost, turns any error answer under ``/api/`` that is not
JSON into ``{"detail": …}`` with the same status, whether ``DEBUG`` is on or off. (The
schema and its docs page answer YAML and HTML when they answer at all.)
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

API_PREFIX = "/api/"
DETAILS = {
    400: "Bad request.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "Method not allowed.",
    500: "A server error occurred.",
}
#: Headers an error answer keeps (a 405's ``Allow``, a 429's ``Retry-After``…).
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class ApiErrorsAsJson:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not request.path_info.startswith(API_PREFIX)
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        detail = DETAILS.get(response.status_code, response.reason_phrase)
        answer = JsonResponse({"detail": detail}, status=response.status_code)
        for header in KEPT_HEADERS:
            if header in response:
                answer[header] = response[header]
        return answer
