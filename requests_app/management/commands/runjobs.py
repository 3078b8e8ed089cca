"""``manage.py runjobs``: run every scheduled job once, now, and say what each did."""

from django.core.management.base import BaseCommand, CommandError

from requests_app.jobs import JOBS
from requests_app.tasks import drain_outbox


class Command(BaseCommand):
    help = "Run every scheduled job once (flags, reminders, patron data retention, outbox)."

    def add_arguments(self, parser):
        parser.add_argument("jobs", nargs="*", help=f"only these jobs: {', '.join(JOBS)}")

    def handle(self, *args, **options):
        unknown = set(options["jobs"]) - set(JOBS)
        if unknown:
            raise CommandError(
                f"No such job: {', '.join(sorted(unknown))}. Jobs: {', '.join(JOBS)}"
            )
        for name, job in JOBS.items():
            if not options["jobs"] or name in options["jobs"]:
                self.stdout.write(str(job()))
        queued = drain_outbox()
        self.stdout.write(f"outbox: {queued} e-mail(s) and ISO 18626 message(s) queued again")
