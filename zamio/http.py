"""Django's HTTP requests under ASGI with one hand-off to a worker thread per request.

Django's own ASGI handler starts a thread for every request (a ThreadSensitiveContext per
request) and crosses between the event loop and that thread three times: the
request_started signal, the middleware and view, and closing the response (which sends
request_finished and gives the database connection back). Daphne's part of a request
costs ≈ 0.3 ms of CPU; Django's ASGI path added ≈ 3.5 ms to every request of the portal
benchmark (a 404 cost 4.1 ms in Daphne and 0.3 ms through the test client).

`HttpHandler` reads the request body on the event loop and then runs the whole request in
one call on a fixed pool of worker threads, as a threaded WSGI server does: the signals,
the middleware and view, and closing the response. An ordinary response goes back to
the loop as bytes and is sent from there; a streaming one (file downloads) is sent from
the worker thread chunk by chunk, so that it is closed in the thread that opened it.

Each worker thread holds at most one database connection at a time, borrowed from the
process's pool for one request. There are HTTP_WORKER_THREADS of them (2 by default, never
more than the pool holds): Python work holds the GIL, so more threads only overlap waits
on the database, and at 16 concurrent clients 8 threads per process cost ~20% more CPU per
request (GIL hand-offs) and 1.5-2x the p95 latency of 2. Requests beyond the threads wait
on the event loop, where waiting costs nothing.
"""

from __future__ import annotations

import io
import logging
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestDataTooBig
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, ASGIRequest, get_script_prefix
from django.http import FileResponse, HttpResponse, HttpResponseBadRequest
from django.urls import get_resolver, set_script_prefix

logger = logging.getLogger("django.request")


def _worker_threads() -> int:
    # Never more threads than pooled connections: a request would wait for one.
    pool = settings.DATABASE_POOL_MAX_SIZE or settings.HTTP_WORKER_THREADS
    return max(1, min(settings.HTTP_WORKER_THREADS, pool))


def _headers(response) -> list[tuple[bytes, bytes]]:
    # As Django's ASGI handler: header case is kept (some clients need Content-Type).
    headers = [
        (
            header.encode("ascii") if isinstance(header, str) else bytes(header),
            value.encode("latin1") if isinstance(value, str) else bytes(value),
        )
        for header, value in response.items()
    ]
    for cookie in response.cookies.values():
        headers.append((b"Set-Cookie", cookie.output(header="").encode("ascii").strip()))
    return headers


class HttpHandler(base.BaseHandler):
    """An ASGI application for Django's HTTP requests (see the module)."""

    chunk_size = ASGIHandler.chunk_size

    def __init__(self) -> None:
        super().__init__()
        self.load_middleware(is_async=False)
        # The URLconf imports every app's API views (~0.3 s of CPU): at startup, not in
        # the first request each worker process serves.
        get_resolver().url_patterns  # noqa: B018
        self._executor = ThreadPoolExecutor(
            max_workers=_worker_threads(), thread_name_prefix="http"
        )
        self._serve_async = sync_to_async(
            self._serve, thread_sensitive=False, executor=self._executor
        )

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"HttpHandler serves HTTP, not {scope['type']}.")
        body_file = await self._read_body(receive)
        if body_file is None:
            return  # the client went away before its request was complete
        try:
            sent = await self._serve_async(scope, body_file, send)
        finally:
            body_file.close()
        if sent is not None:
            start, body = sent
            await send(start)
            await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _read_body(receive):
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        if not message.get("more_body", False):
            return io.BytesIO(message.get("body", b""))
        # A body in several messages: spooled to disk past the upload memory limit.
        body_file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - the caller closes it
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b"
        )
        while True:
            if message["type"] == "http.disconnect":
                body_file.close()
                return None
            body_file.write(message.get("body", b""))
            if not message.get("more_body", False):
                break
            message = await receive()
        body_file.seek(0)
        return body_file

    def _serve(self, scope, body_file, send):
        """Runs one request in a worker thread. Returns (start message, body) for the loop
        to send, or None when a streaming response was sent from here."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        try:
            request = ASGIRequest(scope, body_file)
        except UnicodeDecodeError:
            logger.warning(
                "Bad Request (UnicodeDecodeError)",
                exc_info=sys.exc_info(),
                extra={"status_code": 400},
            )
            response = HttpResponseBadRequest()
        except RequestDataTooBig:
            response = HttpResponse("413 Payload too large", status=413)
        else:
            response = self.get_response(request)
        response._handler_class = self.__class__
        start = {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": _headers(response),
        }
        try:
            if not response.streaming:
                return start, response.content
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
            send_now = async_to_sync(send)
            send_now(start)
            for part in response:
                for offset in range(0, len(part), self.chunk_size):
                    send_now(
                        {
                            "type": "http.response.body",
                            "body": part[offset : offset + self.chunk_size],
                            "more_body": True,
                        }
                    )
            send_now({"type": "http.response.body"})
            return None
        finally:
            response.close()  # request_finished: the database connection goes back
