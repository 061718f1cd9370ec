"""Per-request context: a trace id and the client address, for logs and audit rows."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from dataclasses import dataclass

_TRACE_ID_RE = re.compile(r"^[A-Za-z0-9\-]{8,64}$")


@dataclass(frozen=True)
class RequestContext:
    trace_id: str
    ip: str | None = None
    user_agent: str = ""


_context: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "zamio_request_context", default=None
)


def current() -> RequestContext | None:
    return _context.get()


def current_trace_id() -> str:
    ctx = _context.get()
    return ctx.trace_id if ctx else ""


def new_trace_id() -> str:
    return uuid.uuid4().hex


def client_ip(meta: dict) -> str | None:
    # Behind a proxy the left-most X-Forwarded-For entry is the client; the
    # proxy is trusted to overwrite it (see deployment notes in the README).
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded:
        return forwarded.split(",")[0].strip() or None
    return meta.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    """Gives every request a trace id (echoed as X-Trace-Id) and remembers the client IP."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        trace_id = incoming if _TRACE_ID_RE.match(incoming) else new_trace_id()
        ctx = RequestContext(
            trace_id=trace_id,
            ip=client_ip(request.META),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:255],
        )
        token = _context.set(ctx)
        request.trace_id = trace_id
        try:
            response = self.get_response(request)
        finally:
            _context.reset(token)
        response["X-Trace-Id"] = trace_id
        return response


class RequestContextLogFilter(logging.Filter):
    """Adds the current trace id to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "trace_id", None):
            record.trace_id = current_trace_id() or "-"
        return True
