"""A real SMTP server on loopback for the e-mail tests: aiosmtpd in a thread, recording what it accepts.

    with SmtpServer() as server:                       # or the ``smtp_server`` fixture
        server.fail_next(2)                            # the next two messages get "451 try later"
        send_pending(db, smtp_url=server.url, clock=clock)
        assert [mail.to for mail in server.received] == ["anna@dtu.dk"]

The server binds 127.0.0.1 on a port the OS picks, so tests can run in parallel. Replies to DATA are
scripted with ``fail_next``; ``credentials`` offers AUTH (LOGIN/PLAIN, without TLS: loopback only) and
records who logged in.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

TEMPORARY_FAILURE = "451 4.3.0 Try again later"
ACCEPTED = "250 2.0.0 Message accepted for delivery"


@dataclass(frozen=True)
class ReceivedMail:
    """One message the server accepted: the envelope, the parsed message, and who logged in to send it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    login: str | None

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def body(self) -> str:
        """The plain-text body, decoded, with the wire's CRLF line ends turned back into ``\\n``."""
        part = self.message.get_body(("plain",))
        assert isinstance(part, EmailMessage)
        return str(part.get_content()).replace("\r\n", "\n")


class RecordingHandler:
    """aiosmtpd handler: accepts every message and records it, unless a scripted failure reply is due."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # DATA runs on the server's thread, the test reads on its own
        self._received: list[ReceivedMail] = []
        self._replies: deque[str] = deque()

    def fail_next(self, times: int, reply: str = TEMPORARY_FAILURE) -> None:
        with self._lock:
            self._replies.extend([reply] * times)

    @property
    def received(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._received)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        login = session.auth_data if session.authenticated else None
        with self._lock:
            if self._replies:
                return self._replies.popleft()
            self._received.append(ReceivedMail(
                mail_from=str(envelope.mail_from), rcpt_tos=tuple(envelope.rcpt_tos), message=message, login=login,
            ))
        return ACCEPTED


class _Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self._expected = (username.encode(), password.encode())

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any,
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == self._expected:
            return AuthResult(success=True, handled=False, auth_data=auth_data.login.decode())
        return AuthResult(success=False, handled=False)


class _LoopbackController(Controller):
    """A Controller on a port chosen by the OS (port 0): it learns the real port before its first self-test."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    """The loopback SMTP server; ``url`` is what ``AMFLOW_SMTP_URL`` would hold (with credentials if any)."""

    host = "127.0.0.1"

    def __init__(self, *, credentials: tuple[str, str] | None = None) -> None:
        self.handler = RecordingHandler()
        self._credentials = credentials
        options: dict[str, Any] = {}
        if credentials is not None:
            # AUTH offered without TLS: loopback only (requiring it too would make aiosmtpd warn)
            options = {"authenticator": _Authenticator(*credentials), "auth_require_tls": False}
        self._controller = _LoopbackController(self.handler, hostname=self.host, port=0, **options)
        self._running = False

    def start(self) -> SmtpServer:
        self._controller.start()
        self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def url(self) -> str:
        if self._credentials is None:
            return f"smtp://{self.host}:{self.port}"
        username, password = self._credentials
        return f"smtp://{quote(username, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}"

    @property
    def received(self) -> list[ReceivedMail]:
        """The accepted messages, in order of arrival."""
        return self.handler.received

    def fail_next(self, times: int, reply: str = TEMPORARY_FAILURE) -> None:
        """Answer the next ``times`` messages' DATA with ``reply`` (default: 451, a temporary failure)."""
        self.handler.fail_next(times, reply)
