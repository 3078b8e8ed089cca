"""The going-live benchmark (``benchmarks.imports``) imports what it writes: each file's
rows added the first time, unchanged the second, in a scratch database it drops after."""

from argparse import Namespace

import pytest

from benchmarks import imports


@pytest.mark.postgres
def test_each_file_is_imported_then_changes_nothing_the_second_time(tmp_path):
    figures = imports.measure(Namespace(database="illdesk_bench_import_test", scale=0.005))
    sizes, results = figures["sizes"], figures["results"]
    for kind, size in sizes.items():
        first = results[f"{kind}: {size:,} rows"]["said"]
        again = results[f"{kind}: the same file again"]["said"]
        assert f"imported: {size} added" in first, first
        assert "0 added" in again and f"{size} unchanged" in again, again
    page = imports.markdown_of({**figures, "when": "now", "cpus": 2})
    assert page.count("\n| ") == 2 + 2 * len(sizes)
