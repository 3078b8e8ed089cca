"""``manage.py import KIND FILE [--dry-run]``: a service's data from CSV, for big files
(docs/go-live.md). KIND is ``regions``, ``libraries``, ``lenders``, ``staff`` or ``loans``
(open loans from the old system).

The same resources as the admin's import pages; a progress bar while rows are read; every
refused row by its line and field; nothing saved from a refused file, or with --dry-run.
"""

import csv
import io
from pathlib import Path
from typing import Any

import tablib
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from lenders.resources import LenderResource
from members.resources import LibraryResource, RegionResource, StaffResource
from requests_app import loan_import

RESOURCES = {
    "regions": RegionResource,
    "libraries": LibraryResource,
    "lenders": LenderResource,
    "staff": StaffResource,
}
KINDS = [*RESOURCES, "loans"]


class Command(BaseCommand):
    help = "Import a CSV file of regions, libraries, lenders, staff or open loans."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and count every row; save nothing."
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, kind: str, file: Path, dry_run: bool, **options: Any) -> None:
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {file}: {error}") from error
        bar = tqdm(
            total=max(text.count("\n") - 1, 0),
            unit="row",
            desc=f"{kind} from {file.name}",
            disable=options["no_progress"],
            file=self.stderr,
        )
        with bar:
            if kind == "loans":
                outcome = loan_import.import_loans(text, dry_run=dry_run, progress=bar.update)
                refused, counts = outcome.refused, outcome.counts
            else:
                refused, counts = self._import(RESOURCES[kind], text, dry_run, bar.update)
        if refused:
            for line in refused:
                self.stderr.write(line)
            raise CommandError(
                f"{len(refused)} problem(s) in {file.name}: nothing was imported. "
                "Correct the lines above and import the file again."
            )
        summary = ", ".join(f"{count} {what}" for what, count in counts.items())
        done = "checked; nothing saved (--dry-run)" if dry_run else "imported"
        self.stdout.write(self.style.SUCCESS(f"{file.name}: {done}: {summary}."))

    def _import(self, resource_class, text: str, dry_run: bool, tick) -> tuple[list[str], dict]:
        class Counted(resource_class):
            class Meta(resource_class.Meta):
                # Counts, not the admin's preview: no row's diff drawn as HTML.
                skip_html_diff = True

            def import_row(self, row, instance_loader, **kwargs):
                result = super().import_row(row, instance_loader, **kwargs)
                tick(1)
                return result

        dataset, lines, problems = read_csv(text)
        if problems:
            return problems, {}
        result = Counted().import_data(
            dataset, dry_run=dry_run, raise_errors=False, rollback_on_validation_errors=True
        )
        return refused_lines(result, lines), {
            "added": result.totals["new"],
            "changed": result.totals["update"],
            "unchanged": result.totals["skip"],
        }


def read_csv(text: str) -> tuple[tablib.Dataset, list[int], list[str]]:
    """The file as a dataset, the file's line of each of its rows (blank lines left out,
    a quoted value may span lines), and any row with more values than the header has."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None) or []
    dataset = tablib.Dataset(headers=[name.strip() for name in header])
    lines, problems = [], []
    start = reader.line_num + 1
    for row in reader:
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            problems.append(f"line {line}: {len(row)} values for {len(header)} columns.")
            continue
        dataset.append(row + [""] * (len(header) - len(row)))
        lines.append(line)
    return dataset, lines, problems


def refused_lines(result, lines: list[int]) -> list[str]:
    """Each refused row as "line N, field: why", N the file's line (1 is the header)."""
    found = []
    for number, errors in result.row_errors():
        for error in errors:
            found.append((lines[number - 1], f": {error.error}"))
    for invalid in result.invalid_rows:
        for field, messages in invalid.error_dict.items():
            where = "" if field == "__all__" else f", {field}"
            found.append((lines[invalid.number - 1], f"{where}: {' '.join(messages)}"))
    return [f"line {line}{what}" for line, what in sorted(found, key=lambda item: item[0])]
