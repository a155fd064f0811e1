"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1), that can be slowed down,
made to refuse, stopped in the middle of a run and started again on the same port.

    server = SmtpServer().start()
    app.config["DESK_SMTP_URL"] = server.url
    ...
    server.messages            # parsed email.message.EmailMessage objects, in arrival order
    server.by_message_id()     # Message-ID -> how many times it arrived
"""
from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    message: EmailMessage
    mail_from: str
    rcpt_tos: list[str]
    at: float


@dataclass
class _Handler:
    server: "SmtpServer"

    async def handle_DATA(self, smtp_server, session, envelope):
        return self.server._on_data(envelope)


@dataclass
class SmtpServer:
    port: int = field(default_factory=free_port)
    delay: float = 0.0  # seconds to wait before accepting each message (a slow server)
    refuse_with: str | None = None  # e.g. "451 4.3.0 try again later": refuse every message
    stop_after: int | None = None  # stop the server once this many messages were accepted
    received: list[Received] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self._stopping = False

    # ------------------------------------------------------------ control

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> "SmtpServer":
        self._stopping = False
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    # ------------------------------------------------------------ what arrived

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [r.message for r in self.received]

    def by_message_id(self) -> Counter:
        return Counter(m["Message-ID"] for m in self.messages)

    def for_reference(self, reference: str) -> list[EmailMessage]:
        return [m for m in self.messages if reference in m["Subject"]]

    def clear(self) -> None:
        with self._lock:
            self.received.clear()

    # ------------------------------------------------------------ the handler

    def _on_data(self, envelope) -> str:
        if self.delay:
            time.sleep(self.delay)  # blocks the server's loop: a slow server, one message at a time
        if self._stopping:
            return "421 4.3.2 Service shutting down"
        if self.refuse_with:
            return self.refuse_with
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.received.append(Received(message, envelope.mail_from, list(envelope.rcpt_tos), time.time()))
            count = len(self.received)
        if self.stop_after is not None and count >= self.stop_after:
            self._stopping = True  # later messages get 421 until the server is gone

            def stop_soon():
                time.sleep(0.3)  # let this message's "250 OK" reach the client first
                self.stop()

            threading.Thread(target=stop_soon, daemon=True).start()
        return "250 OK"


def text_part(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_part(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def attachments(message: EmailMessage) -> list[tuple[str, bytes]]:
    return [(part.get_filename(), part.get_content()) for part in message.iter_attachments()]
