"""Health: is the database, the cache/broker and a Celery worker reachable?"""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from zamio.celery import app as celery_app


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
        result = {"status": "ok"}
        if detail:
            result.update(detail)
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure
        result = {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _cache() -> dict:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "1", 10)
    if cache.get(key) != "1":
        raise RuntimeError("value written was not read back")
    cache.delete(key)
    return {"backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}


def _broker() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"mode": "eager"}
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return {"mode": "broker"}


def _workers() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"mode": "eager", "workers": 0}
    replies = celery_app.control.ping(timeout=1.0) or []
    if not replies:
        raise RuntimeError("no Celery worker answered a ping within 1 s")
    return {"workers": len(replies)}


class HealthApi(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    @extend_schema(
        responses={
            200: inline_serializer(
                "Health", {"status": serializers.CharField(), "checks": serializers.DictField()}
            ),
            503: inline_serializer(
                "HealthDown", {"status": serializers.CharField(), "checks": serializers.DictField()}
            ),
        },
        tags=["health"],
    )
    def get(self, request):
        checks = {
            "database": _timed(_database),
            "cache": _timed(_cache),
            "broker": _timed(_broker),
            "celery": _timed(_workers),
        }
        essential_down = any(checks[k]["status"] != "ok" for k in ("database", "cache", "broker"))
        if essential_down:
            overall, code = "down", 503
        elif checks["celery"]["status"] != "ok":
            overall, code = "degraded", 200
        else:
            overall, code = "ok", 200
        return Response({"status": overall, "checks": checks}, status=code)
