"""OpenAPI post-processing: every operation documents the error answers it can give.

Any endpoint can answer in the one error shape of zamio.errors: 400 (bad input), 401 (no
or bad token, also on public endpoints given a bad one), 403, 404 (the object or one the
body names), 409 (a conflicting state), 415 (a body in another media type) and 429
(throttled). Operations that already document a code keep their own description.
"""

from __future__ import annotations

ERROR_COMPONENT = "ErrorResponse"
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details", "trace_id"],
            "properties": {
                "code": {"type": "string", "description": "Machine-readable reason."},
                "message": {"type": "string", "description": "For people."},
                "details": {
                    "description": "Field errors ({field: [messages]}) or context.",
                },
                "trace_id": {"type": "string", "description": "Quote it to support."},
            },
        }
    },
}
ERROR_CODES = {
    "400": "Invalid input; `details` names the fields.",
    "401": "Not signed in, or the token is invalid or expired.",
    "403": "Signed in, but not allowed to do this.",
    "404": "No such object, or not one the caller may see.",
    "409": "The object's current state does not allow this.",
    "415": "The body is not in a media type this endpoint reads.",
    "429": "Too many requests; retry after the Retry-After header.",
}


def document_error_responses(result, generator, request, public):
    """drf-spectacular hook: adds the error shape and the error codes to every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_CODES.items():
                if code == "415" and "requestBody" not in operation:
                    continue
                response = responses.setdefault(code, {"description": description})
                response.setdefault("content", {}).setdefault("application/json", {"schema": ref})
    return result


def file_responses(media_types, *, description: str = "The file.") -> dict:
    """`responses=` for an endpoint that streams a stored file: one 200 entry per media type it
    may answer with, so the schema promises the Content-Type the client will really get."""
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import OpenApiResponse

    return {
        (200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description=description)
        for media_type in sorted(set(media_types))
    }
