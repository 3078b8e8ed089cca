"""``manage.py iso18626_peer``: the demo's ISO 18626 lender (``requests_app.iso18626.peer``),
served over HTTP until stopped."""

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings
from django.core.management.base import BaseCommand

from requests_app.iso18626.inbound import MAX_BYTES
from requests_app.iso18626.peer import SCENARIOS, Peer


class Command(BaseCommand):
    help = "Serve a small ISO 18626 lender that answers illdesk by scenario (demo and tests)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument(
            "--illdesk",
            default=f"{settings.ILLDESK_BASE_URL}/iso18626/",
            help="Where to post the lender's messages (illdesk's POST /iso18626/).",
        )
        parser.add_argument(
            "--password", default="demo-partner", help="The password shared with illdesk."
        )
        parser.add_argument(
            "--delay", type=float, default=3.0, help="Seconds before each answer is posted."
        )

    def handle(self, *args, host, port, illdesk, password, delay, **options):
        peer = Peer(illdesk, password, delay, currency=settings.ILLDESK_CURRENCY)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server name
                length = min(int(self.headers.get("Content-Length") or 0), MAX_BYTES)
                scenario = self.path.strip("/")
                status, answer = peer.answer(
                    scenario, self.rfile.read(length), self.headers.get("Authorization", "")
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format, *args):  # noqa: A002 - the http.server name
                pass

        server = ThreadingHTTPServer((host, port), Handler)
        addresses = ", ".join(f"http://{host}:{port}/{name}/" for name in SCENARIOS)
        self.stdout.write(f"ISO 18626 demo lender ready at {addresses}; answering {illdesk}")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
