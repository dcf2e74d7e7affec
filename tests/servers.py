"""Real servers on loopback for tests: SMTP (aiosmtpd) and a small HTTP webhook receiver."""

import email
import socket
import threading
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SmtpServer:
    port: int
    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.messages.append(email.message_from_bytes(envelope.content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"

    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=followup@example.org&name=Oppfolging"

    def to(self, address: str) -> list[Message]:
        return [m for m, r in zip(self.messages, self.recipients, strict=True) if address in r]


def start_smtp() -> tuple[SmtpServer, Controller]:
    server = SmtpServer(port=free_port())
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    return server, controller


class WebhookServer:
    """Receives Apprise json:// posts on a fixed port; can be started late (a recovery)."""

    def __init__(self, port: int):
        self.port, self.bodies = port, []
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                bodies.append(self.rfile.read(length).decode("utf-8"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
