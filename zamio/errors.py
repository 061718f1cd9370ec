"""One error type hierarchy and one handler that maps it, and DRF's, to HTTP.

Every 4xx/5xx body has the shape
    {"error": {"code": str, "message": str, "details": object, "trace_id": str}}
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from zamio.middleware import current_trace_id

logger = logging.getLogger("zamio.errors")


class DomainError(Exception):
    """A business rule refused an action. Subclasses fix the HTTP status and code."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details if details is not None else {}
        if code:
            self.code = code


class ValidationFailed(DomainError):
    status_code = 400
    code = "invalid"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class Conflict(DomainError):
    """The request is well-formed but clashes with the current state (409)."""

    status_code = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class Unauthorized(DomainError):
    status_code = 401
    code = "not_authenticated"


def error_body(code: str, message: str, details: Any = None) -> dict:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details if details is not None else {},
            "trace_id": current_trace_id(),
        }
    }


_DRF_CODES = {
    drf.ParseError: "malformed_request",
    drf.AuthenticationFailed: "authentication_failed",
    drf.NotAuthenticated: "not_authenticated",
    drf.PermissionDenied: "permission_denied",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.Throttled: "throttled",
}


def _drf_code(exc: drf.APIException) -> str:
    for cls, code in _DRF_CODES.items():
        if isinstance(exc, cls):
            return code
    return "invalid" if isinstance(exc, drf.ValidationError) else "error"


def _validation_details(detail: Any) -> Any:
    """Turns DRF's ErrorDetail trees into plain lists of strings per field."""
    if isinstance(detail, dict):
        return {str(k): _validation_details(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_validation_details(v) for v in detail]
    return str(detail)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = drf.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if not isinstance(exc, drf.APIException):
        logger.exception("Unhandled error in API view", exc_info=exc)
        return Response(error_body("server_error", "An unexpected error occurred."), status=500)

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, drf.ValidationError):
        details = _validation_details(exc.detail)
        if isinstance(details, list):
            details = {"non_field_errors": details}
        message = "The request has invalid or missing fields."
    else:
        details = {}
        message = str(exc.detail)
    return Response(
        error_body(_drf_code(exc), message, details), status=exc.status_code, headers=headers
    )


def json_404(request, exception=None):
    return JsonResponse(error_body("not_found", "No such resource."), status=404)


def json_500(request):
    return JsonResponse(error_body("server_error", "An unexpected error occurred."), status=500)


def json_400(request, exception=None):
    return JsonResponse(error_body("bad_request", "Bad request."), status=400)


def json_403(request, exception=None):
    return JsonResponse(error_body("permission_denied", "Permission denied."), status=403)
