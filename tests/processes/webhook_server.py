"""A real HTTP server on loopback that records the JSON posted to it, for the webhook tests.

    with WebhookServer() as server:        # binds 127.0.0.1 on a port the OS picks
        server.fail_next(2)                # the next two posts get 503
        ... deliver_pending(db, targets={"fm": server.url}, clock=clock)
        assert server.received[0].body["payload"] == {...}
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Post:
    path: str
    headers: dict[str, str]
    body: Any


class WebhookServer:
    def __init__(self) -> None:
        self.received: list[Post] = []
        self._failures: deque[int] = deque()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status = server._failures.popleft() if server._failures else 204
                if status < 300:
                    server.received.append(Post(self.path, dict(self.headers.items()), json.loads(raw)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/fm/work-orders"

    def fail_next(self, count: int, status: int = 503) -> None:
        self._failures.extend([status] * count)

    def __enter__(self) -> WebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
