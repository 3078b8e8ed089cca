"""The OpenAPI schema describes the API, and its docs page comes from our own files."""

import re

import yaml
from django.urls import reverse
from drf_spectacular.validation import validate_schema


def schema(client) -> dict:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_the_schema_is_public_and_valid_openapi_3(client, db):
    document = schema(client)
    assert document["openapi"].startswith("3.")
    validate_schema(document)  # raises on an invalid document


def test_the_schema_names_every_contracted_endpoint(client, db):
    paths = schema(client)["paths"]
    for path in (
        "/api/v1/auth/token/",
        "/api/v1/requests/",
        "/api/v1/requests/{id}/",
        "/api/v1/requests/{id}/events/",
        "/api/v1/libraries/",
        "/api/v1/lenders/",
        "/api/v1/patrons/",
    ):
        assert path in paths, path
    for action in ("receive", "request-renewal", "return", "ship", "answer-renewal"):
        operation = paths[f"/api/v1/requests/{{id}}/{action}/"]["post"]
        assert {"200", "400", "401", "403", "404", "409"} <= set(operation["responses"])


def test_the_list_parameters_are_documented(client, db):
    parameters = {
        p["name"] for p in schema(client)["paths"]["/api/v1/requests/"]["get"]["parameters"]
    }
    assert {"status", "library", "lender", "not_arrived", "overdue", "q", "page", "page_size"} <= (
        parameters
    )


def test_the_docs_page_loads_nothing_from_another_site(client, db):
    response = client.get(reverse("api_docs"))
    assert response.status_code == 200
    page = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources, page
    assert all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert "swagger-ui-bundle.js" in page
    assert not re.search(r"<script>(?!\s*</script>)", page), "no inline script"


def test_the_schema_speaks_the_workflows_words_not_the_pages(client, db):
    """An endpoint is described by its move (``workflow.MOVES``), not by the page's button
    and confirmation, which are written for a person at the desk (they were the schema's
    summaries and descriptions)."""
    from requests_app.web.actions import ACTIONS
    from requests_app.workflow import MOVES

    labels = {move.label.lower() for move in MOVES.values()}
    page_words = {
        words.lower()
        for page_action in ACTIONS
        for words in (page_action.button, page_action.done)
        if words.lower() not in labels  # the page may say what the move is called
    }
    described = [
        (operation.get("summary", "").lower(), operation.get("description", "").lower())
        for path in schema(client)["paths"].values()
        for operation in path.values()
    ]
    assert [d for d in described if page_words & set(d)] == []
    ship = schema(client)["paths"]["/api/v1/requests/{id}/ship/"]["post"]
    assert ship["summary"] == "Record the shipment"
