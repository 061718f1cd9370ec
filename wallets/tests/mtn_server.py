"""A local HTTP peer speaking the MTN MoMo Open API disbursement endpoints, as the sandbox does.

    POST /disbursement/token/                        Basic api_user:api_key + subscription key
    POST /disbursement/v1_0/transfer                 202 | 409 RESOURCE_ALREADY_EXIST | 400 | 401
    GET  /disbursement/v1_0/transfer/{referenceId}   200 {status, reason, ...} | 404 | 401

Tests script faults (timeouts before or after the transfer is created, 500s,
token expiry, status that stays PENDING for a while) and read per-reference
counters: `created[ref]` is the number of transfers the "provider" made for a
reference, the figure every payout test asserts is at most one.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SUBSCRIPTION_KEY = "test-subscription-key"
API_USER = "3f1c1c2e-3c4b-4a43-9a1d-8f1b3b1f0001"
API_KEY = "test-api-key"
TARGET_ENVIRONMENT = "sandbox"

TRANSFER_RE = re.compile(r"^/disbursement/v1_0/transfer/([^/?]+)$")


@dataclass
class Fault:
    status: int = 0  # answer with this status (0: none)
    delay: float = 0.0  # sleep this long before answering (beyond the client's timeout)
    after_processing: bool = False  # do the work first, then fail/sleep


@dataclass
class FakeMtnState:
    tokens: dict[str, float] = field(default_factory=dict)  # token → expiry (monotonic)
    token_ttl: int = 3600
    token_requests: int = 0
    transfers: dict[str, dict] = field(default_factory=dict)
    created: Counter = field(default_factory=Counter)
    posts: Counter = field(default_factory=Counter)
    gets: Counter = field(default_factory=Counter)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    # msisdn → (status, reason); default SUCCESSFUL
    outcomes: dict[str, tuple[str, str]] = field(default_factory=dict)
    # status polls that answer PENDING before the final outcome shows (per reference)
    pending_polls: int = 0
    polls_left: dict[str, int] = field(default_factory=dict)
    # Invalidate every issued token after this many authorised calls (token expiry mid-batch).
    expire_tokens_after_calls: int | None = None
    authorised_calls: int = 0
    # (callback url, body) for each transfer that reached a final state, as MTN would send.
    callbacks: list[tuple[str, dict]] = field(default_factory=list)
    requests: list[tuple[str, str, dict]] = field(default_factory=list)


class FakeMtnServer:
    def __init__(self) -> None:
        self.state = FakeMtnState()
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> FakeMtnServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- scripting ---------------------------------------------------------------------
    def fail_next(
        self,
        endpoint: str,
        *,
        status: int = 0,
        delay: float = 0.0,
        after_processing: bool = False,
        times: int = 1,
    ) -> None:
        """endpoint: "token", "transfer" (POST) or "status" (GET)."""
        with self.lock:
            self.state.faults.setdefault(endpoint, []).extend(
                Fault(status, delay, after_processing) for _ in range(times)
            )

    def set_outcome(self, msisdn: str, status: str, reason: str = "") -> None:
        self.state.outcomes[msisdn] = (status, reason)

    def expire_tokens(self) -> None:
        with self.lock:
            self.state.tokens.clear()

    def create_directly(self, reference: str, body: dict, callback_url: str = "") -> None:
        """A transfer the provider holds without our client having seen the answer."""
        with self.lock:
            self._create(reference, body, callback_url)

    # --- behaviour -------------------------------------------------------------------------
    def _take_fault(self, endpoint: str) -> Fault | None:
        with self.lock:
            queue = self.state.faults.get(endpoint) or []
            return queue.pop(0) if queue else None

    def _create(self, reference: str, body: dict, callback_url: str) -> bool:
        if reference in self.state.transfers:
            return False
        msisdn = body["payee"]["partyId"]
        status, reason = self.state.outcomes.get(msisdn, ("SUCCESSFUL", ""))
        self.state.transfers[reference] = {
            "amount": body["amount"],
            "currency": body["currency"],
            "financialTransactionId": str(uuid.uuid4().int)[:9],
            "externalId": body.get("externalId", ""),
            "payee": body["payee"],
            "payerMessage": body.get("payerMessage", ""),
            "payeeNote": body.get("payeeNote", ""),
            "status": status,
            "reason": reason,
        }
        self.state.created[reference] += 1
        self.state.polls_left[reference] = self.state.pending_polls
        if callback_url and status in ("SUCCESSFUL", "FAILED"):
            self.state.callbacks.append((callback_url, self._public(reference)))
        return True

    def _public(self, reference: str) -> dict:
        transfer = dict(self.state.transfers[reference])
        if transfer["status"] != "FAILED":
            transfer.pop("reason")
        if transfer["status"] != "SUCCESSFUL":
            transfer.pop("financialTransactionId")
        return transfer

    def status_of(self, reference: str) -> dict | None:
        with self.lock:
            if reference not in self.state.transfers:
                return None
            if self.state.polls_left.get(reference, 0) > 0:
                self.state.polls_left[reference] -= 1
                public = self._public(reference)
                public["status"] = "PENDING"
                public.pop("reason", None)
                public.pop("financialTransactionId", None)
                return public
            return self._public(reference)

    def _token_ok(self, header: str) -> bool:
        if not header.startswith("Bearer "):
            return False
        with self.lock:
            expiry = self.state.tokens.get(header[7:])
            if expiry is None or expiry < time.monotonic():
                return False
            self.state.authorised_calls += 1
            limit = self.state.expire_tokens_after_calls
            if limit is not None and self.state.authorised_calls >= limit:
                # This call still passes; every later one needs a new token.
                self.state.tokens.clear()
                self.state.expire_tokens_after_calls = None
            return True

    def issue_token(self) -> dict:
        with self.lock:
            token = uuid.uuid4().hex
            self.state.tokens[token] = time.monotonic() + self.state.token_ttl
            self.state.token_requests += 1
            return {
                "access_token": token,
                "token_type": "access_token",
                "expires_in": self.state.token_ttl,
            }


def _handler_for(server: FakeMtnServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # keep test output quiet
            return

        def _reply(self, status: int, body: dict | None = None) -> None:
            payload = json.dumps(body).encode() if body is not None else b""
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a scripted timeout)

        def _body(self) -> dict:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw or b"{}")
            except ValueError:
                return {}

        def _common_ok(self) -> bool:
            if self.headers.get("Ocp-Apim-Subscription-Key") != SUBSCRIPTION_KEY:
                self._reply(401, {"statusCode": 401, "message": "Invalid subscription key."})
                return False
            return True

        def _authorised(self) -> bool:
            if not self._common_ok():
                return False
            if not server._token_ok(self.headers.get("Authorization", "")):
                self._reply(401, {"code": "UNAUTHORIZED", "message": "Access token expired."})
                return False
            if self.headers.get("X-Target-Environment") != TARGET_ENVIRONMENT:
                self._reply(
                    403,
                    {
                        "code": "NOT_ALLOWED_TARGET_ENVIRONMENT",
                        "message": "Target environment not allowed.",
                    },
                )
                return False
            return True

        def _faulted(self, fault: Fault | None) -> bool:
            """Applies a fault that acts before processing; True if the request is finished."""
            if fault is None or fault.after_processing:
                return False
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status:
                self._reply(
                    fault.status,
                    {"code": "INTERNAL_PROCESSING_ERROR", "message": "Scripted failure."},
                )
            return True

        def _after(self, fault: Fault | None) -> bool:
            if fault is None or not fault.after_processing:
                return False
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status:
                self._reply(
                    fault.status,
                    {"code": "INTERNAL_PROCESSING_ERROR", "message": "Scripted failure."},
                )
            return True

        def do_POST(self):
            body = self._body()
            server.state.requests.append(("POST", self.path, dict(self.headers)))
            if self.path == "/disbursement/token/":
                fault = server._take_fault("token")
                if self._faulted(fault):
                    return
                if not self._common_ok():
                    return
                expected = base64.b64encode(f"{API_USER}:{API_KEY}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    self._reply(401, {"error": "login_failed"})
                    return
                self._reply(200, server.issue_token())
                return
            if self.path != "/disbursement/v1_0/transfer":
                self._reply(404, {"code": "RESOURCE_NOT_FOUND", "message": "No such path."})
                return
            reference = self.headers.get("X-Reference-Id", "")
            with server.lock:
                server.state.posts[reference] += 1  # every POST received, answered or not
            fault = server._take_fault("transfer")
            if self._faulted(fault):
                return
            if not self._authorised():
                return
            try:
                uuid.UUID(reference)
            except ValueError:
                self._reply(400, {"code": "INVALID_REFERENCE_ID", "message": "Not a UUID."})
                return
            payee = body.get("payee") or {}
            if (
                payee.get("partyIdType") != "MSISDN"
                or not payee.get("partyId")
                or not body.get("amount")
            ):
                self._reply(400, {"code": "INVALID_PARAMETER", "message": "Bad transfer body."})
                return
            with server.lock:
                created = server._create(reference, body, self.headers.get("X-Callback-Url", ""))
            if self._after(fault):
                return
            if not created:
                self._reply(
                    409,
                    {
                        "code": "RESOURCE_ALREADY_EXIST",
                        "message": "Duplicated reference id. Creation of resource failed.",
                    },
                )
                return
            self._reply(202)

        def do_GET(self):
            server.state.requests.append(("GET", self.path, dict(self.headers)))
            match = TRANSFER_RE.match(self.path)
            if not match:
                self._reply(404, {"code": "RESOURCE_NOT_FOUND", "message": "No such path."})
                return
            fault = server._take_fault("status")
            if self._faulted(fault):
                return
            if not self._authorised():
                return
            reference = match.group(1)
            with server.lock:
                server.state.gets[reference] += 1
            found = server.status_of(reference)
            if found is None:
                self._reply(
                    404,
                    {"code": "RESOURCE_NOT_FOUND", "message": "Requested resource was not found."},
                )
                return
            self._reply(200, found)

    return Handler
