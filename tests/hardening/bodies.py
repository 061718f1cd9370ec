"""Plausible request bodies made from the OpenAPI schema, so that a request refused for
access is refused for access, not for a missing field (a valid body would have worked)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.hardening.world import PDF_BYTES, png_bytes, wav_bytes

_PLACEHOLDER = re.compile(r"\{[^}]+\}")


def openapi_schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def schema_key(path: str) -> str:
    """ "/api/v1/tracks/{id}/" and "/api/v1/tracks/<int:pk>/" both become "/api/v1/tracks/{}/"."""
    path = re.sub(r"<(?:\w+:)?\w+>", "{}", path)
    return _PLACEHOLDER.sub("{}", path)


def operations(schema: dict) -> dict[tuple[str, str], dict]:
    """{(schema_key(path), method): operation}."""
    return {
        (schema_key(path), method): op
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    }


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    for key in ("allOf", "oneOf", "anyOf"):
        if key in node:
            options = [o for o in node[key] if o.get("type") != "null"]
            return _resolve(schema, options[0]) if options else {}
    return node


def _file_for(name: str) -> SimpleUploadedFile:
    if "audio" in name or "clip" in name:
        return SimpleUploadedFile("clip.wav", wav_bytes(), content_type="audio/wav")
    if "cover" in name or "image" in name:
        return SimpleUploadedFile("cover.png", png_bytes(), content_type="image/png")
    if name in ("file", "csv", "csv_file") and "playlog" in name:
        return SimpleUploadedFile("log.csv", b"played_at,title,artist\n", content_type="text/csv")
    return SimpleUploadedFile("doc.pdf", PDF_BYTES, content_type="application/pdf")


def _value(schema: dict, name: str, node: dict, overrides: dict):
    if name in overrides:
        return overrides[name]
    node = _resolve(schema, node)
    if "enum" in node:
        values = [v for v in node["enum"] if v not in ("", None)]
        return values[-1] if values else ""
    kind = node.get("type")
    fmt = node.get("format", "")
    if kind == "object" or "properties" in node:
        return _object(schema, node, overrides)
    if kind == "array":
        return [_value(schema, name, node.get("items", {}), overrides)]
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        return max(int(node.get("minimum", 1)), 1)
    if fmt == "binary":
        return _file_for(name)
    if fmt == "date":
        return (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1).isoformat()
    if fmt == "date-time":
        return timezone.now().isoformat()
    if fmt == "email" or "email" in name:
        return "someone@world.test"
    if fmt == "uri" or name == "url":
        return "http://203.0.114.99:8000/live"
    if fmt == "decimal" or "amount" in name:
        return "20.00"
    return "Hardening suite"


def _object(schema: dict, node: dict, overrides: dict) -> dict:
    node = _resolve(schema, node)
    required = set(node.get("required", ()))
    out = {}
    for name, prop in node.get("properties", {}).items():
        prop_r = _resolve(schema, prop)
        if prop_r.get("readOnly") or prop.get("readOnly"):
            continue
        if name in required or name in overrides:
            out[name] = _value(schema, name, prop, overrides)
    return out


def body_for(schema: dict, op: dict | None, overrides: dict | None = None) -> tuple[dict, str]:
    """(body, format) for an operation: "multipart" when it takes files, else "json"."""
    overrides = overrides or {}
    if not op or "requestBody" not in op:
        return dict(overrides), "json"
    content = op["requestBody"]["content"]
    media = "application/json" if "application/json" in content else next(iter(content))
    body = _object(schema, content[media]["schema"], overrides)
    multipart = media.startswith("multipart") or any(
        isinstance(v, SimpleUploadedFile) for v in body.values()
    )
    return body, "multipart" if multipart else "json"


def month_ago() -> date:
    return (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
