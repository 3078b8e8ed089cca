"""``benchmarks.explain_filters`` asks for every filter of the lists, the trace steps too
(it once stopped at an import nobody ran between benchmark runs)."""

from urllib.parse import parse_qs

from benchmarks import explain_filters
from requests_app.flags import LIST_FLAGS
from requests_app.traces import STEP_CHOICES


def test_every_flag_and_trace_step_is_asked_for_on_the_queue():
    values = {
        "library": "LIB1", "region": "Western", "lender": "CVC", "word": "history",
        "isbn": "9780143127741", "oclc": "857088669", "ill_number": "ILL-1", "card": "2123",
        "statuses": ["submitted", "shipped"],
    }  # fmt: skip
    asked = [(path, parse_qs(query)) for _, path, query in explain_filters.addresses(values)]
    queue = [query for path, query in asked if path == "/queue/"]
    assert {q["flag"][0] for q in queue if "flag" in q} == set(LIST_FLAGS)
    assert {q["trace"][0] for q in queue if "trace" in q} == {step for step, _ in STEP_CHOICES}
    assert any("trace" in query for path, query in asked if path == "/api/v1/requests/")
