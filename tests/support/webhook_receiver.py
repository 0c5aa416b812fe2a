"""A webhook endpoint on loopback for the simulator to deliver to: keeps each body and its signature."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """A webhook endpoint on loopback that keeps every body and its signature header."""

    def __init__(self) -> None:
        self.bodies: list[tuple[bytes, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.bodies.append((body, self.headers.get("X-Hub-Signature-256")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.bodies) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return [json.loads(body) for body, _ in self.bodies]

    def changes(self, count: int) -> list[tuple[str, dict[str, Any]]]:
        """``(field, value)`` of each body received, once ``count`` have arrived."""
        bodies = self.wait(count)
        assert len(bodies) == count, bodies
        return [(b["entry"][0]["changes"][0]["field"], b["entry"][0]["changes"][0]["value"]) for b in bodies]
