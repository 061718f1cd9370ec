"""Filter types shared by every app's list endpoints."""

from __future__ import annotations

from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_filters.fields import IsoDateTimeField


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, moved to UTC. Python accepts offsets up to ±23:59, PostgreSQL
    only to ±15:59: a query with "-18:46" must be a 400, not a database error."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is not None and timezone.is_aware(parsed):
            try:
                return parsed.astimezone(UTC)
            except OverflowError as exc:  # year 1 minus an offset: no such moment
                raise ValidationError(self.error_messages["invalid"], code="invalid") from exc
        return parsed


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField
