from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class ArkeselServer:
    """A local stand-in for Arkesel's SMS API v2, answering from a script of (status, body)."""

    def __init__(self, key: str):
        self.key = key
        self.script: list[tuple[int, dict]] = []
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(
                    {"path": self.path, "api_key": self.headers.get("api-key"), "body": body}
                )
                if self.path != "/api/v2/sms/send":
                    status, payload = 404, {"status": "error", "message": "Not found"}
                elif self.headers.get("api-key") != server.key:
                    status, payload = 401, {"status": "error", "message": "Invalid API key"}
                elif server.script:
                    status, payload = server.script.pop(0)
                else:
                    status, payload = (
                        200,
                        {
                            "status": "success",
                            "data": [
                                {"recipient": r, "id": f"msg-{len(server.requests)}"}
                                for r in body.get("recipients", [])
                            ],
                        },
                    )
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def arkesel(settings):
    with ArkeselServer(key="test-key-123") as server:
        settings.SMS_BACKEND = "http"
        settings.SMS_GATEWAY_URL = server.url
        settings.SMS_GATEWAY_KEY = "test-key-123"
        settings.SMS_SENDER_ID = "ZamIO"
        yield server
