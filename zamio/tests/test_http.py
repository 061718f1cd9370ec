"""The ASGI HTTP handler: whole requests in, whole responses out, database connections
given back, through the same middleware as every other request."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.db import connection, connections
from django.http import JsonResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from tests.processes import process_env, python_ok
from zamio.http import HttpHandler

pytestmark = pytest.mark.django_db(transaction=True)


_connections_used: list = []


@csrf_exempt
def _echo(request):
    with connection.cursor() as cursor:  # borrows a connection for this request
        cursor.execute("SELECT 1")
    _connections_used.append(connections["default"])  # this worker thread's
    return JsonResponse(
        {"method": request.method, "body": request.body.decode(), "q": request.GET.get("q")}
    )


def _stream(request):
    return StreamingHttpResponse(iter([b"a" * 70_000, b"b" * 10, b"c"]))


urlpatterns = [path("echo/", _echo), path("stream/", _stream)]


def _scope(method: str, route: str, query: bytes = b"") -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"text/plain")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }


async def _exchange(app, scope: dict, bodies: list[bytes]) -> tuple[dict, list[dict]]:
    communicator = ApplicationCommunicator(app, scope)
    for i, body in enumerate(bodies):
        await communicator.send_input(
            {"type": "http.request", "body": body, "more_body": i < len(bodies) - 1}
        )
    start = await communicator.receive_output(10)
    messages = [await communicator.receive_output(10)]
    while messages[-1].get("more_body"):
        messages.append(await communicator.receive_output(10))
    await communicator.wait(10)
    return start, messages


def test_a_body_sent_in_several_messages_arrives_whole(settings):
    settings.ROOT_URLCONF = __name__
    app = HttpHandler()

    start, messages = async_to_sync(_exchange)(
        app, _scope("POST", "/echo/", b"q=1"), [b"hello ", b"wor", b"ld"]
    )

    assert start["status"] == 200
    assert (b"Content-Type", b"application/json") in start["headers"]
    assert any(name == b"X-Trace-Id" for name, _value in start["headers"])  # middleware ran
    assert b"".join(m["body"] for m in messages) == (
        b'{"method": "POST", "body": "hello world", "q": "1"}'
    )


def test_a_streaming_response_is_sent_in_chunks_and_whole(settings):
    settings.ROOT_URLCONF = __name__
    app = HttpHandler()

    start, messages = async_to_sync(_exchange)(app, _scope("GET", "/stream/"), [b""])

    assert start["status"] == 200
    assert b"".join(m.get("body", b"") for m in messages) == b"a" * 70_000 + b"b" * 10 + b"c"
    assert len(messages) > 3  # the 70,000 bytes went out in more than one message
    assert messages[-1].get("more_body", False) is False


def test_every_request_gives_its_database_connection_back(settings):
    settings.ROOT_URLCONF = __name__
    app = HttpHandler()
    _connections_used.clear()

    for _ in range(3):
        start, _messages = async_to_sync(_exchange)(app, _scope("POST", "/echo/"), [b"x"])
        assert start["status"] == 200

    # Each request's connection was closed (given back to the pool) when it ended.
    assert len(_connections_used) == 3
    assert all(used.connection is None for used in _connections_used)


def test_an_unknown_api_path_is_a_404_in_the_error_shape():
    app = HttpHandler()

    start, messages = async_to_sync(_exchange)(app, _scope("GET", "/api/v1/nope/"), [b""])

    assert start["status"] == 404
    assert b'"code":"not_found"' in b"".join(m["body"] for m in messages).replace(b" ", b"")


def test_the_handler_imports_the_urlconf_when_it_starts_not_on_the_first_request(tmp_path):
    # A worker process's first request would otherwise import every app's views (~0.3 s).
    script = (
        "import sys; import zamio.asgi; "
        "assert 'zamio.urls' in sys.modules and 'detections.api.views' in sys.modules; "
        "print('ok')"
    )
    done = python_ok(script, env=process_env(tmp_path), timeout=120)
    assert done.stdout.strip() == "ok"


def test_a_worker_freezes_what_it_built_at_start_out_of_the_collectors_way(tmp_path):
    # Each full collection would walk every module, class and view the worker imported.
    script = (
        "import gc; import zamio.asgi; "
        "frozen = gc.get_freeze_count(); alive = len(gc.get_objects()); "
        "assert frozen > 100_000 and alive < frozen / 10, (frozen, alive); "
        "print('ok')"
    )
    done = python_ok(script, env=process_env(tmp_path), timeout=120)
    assert done.stdout.strip() == "ok"
