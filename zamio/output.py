"""Output serializers, compiled: DRF's representation of an object, at a fraction of its cost.

A DRF serializer walks its fields for every object: each field looks its attribute up,
checks for None, converts it (a date-time is moved to the current time zone, a decimal
quantized in a fresh context) and fills a dict, through several calls per field. For a
page of 25 plays that was ≈ 2 ms of the ≈ 10 ms a request may cost. `compiled()` reads the
fields of an output serializer once and returns a function that produces the same dict
with one getter and one converter per field, for the field types our outputs use;
any other field is converted by DRF's own `to_representation`. The serializer stays the
one description of the output (and of the OpenAPI schema); tests compare the two.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Manager
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.fields import SkipField, _UnvalidatedField, is_simple_callable
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings

Converter = Callable[[Any, Any], Any]  # (value, time zone) -> JSON-ready value
_compiled: dict[type, Compiled] = {}


def compiled(serializer_class: type[serializers.BaseSerializer]) -> Compiled:
    """The compiled form of an output serializer class (built once per class)."""
    found = _compiled.get(serializer_class)
    if found is None:
        found = _compiled.setdefault(serializer_class, Compiled(serializer_class()))
    return found


class Compiled:
    def __init__(self, serializer: serializers.Serializer) -> None:
        self._fields = [
            (field.field_name, _getter(field), _converter(field))
            for field in serializer._readable_fields
        ]

    def one(self, instance) -> dict[str, Any]:
        return self._represent(instance, timezone.get_current_timezone())

    def many(self, instances) -> list[dict[str, Any]]:
        tz = timezone.get_current_timezone()
        return [self._represent(instance, tz) for instance in instances]

    def _represent(self, instance, tz) -> dict[str, Any]:
        out = {}
        for name, get, convert in self._fields:
            try:
                value = get(instance)
            except SkipField:
                continue
            out[name] = None if value is None else convert(value, tz)
        return out


def _getter(field: serializers.Field) -> Callable[[Any], Any]:
    if isinstance(field, serializers.RelatedField | serializers.ManyRelatedField):
        # DRF reads related fields its own way (a primary key without the related row).
        def get_related(instance):
            value = field.get_attribute(instance)
            return None if isinstance(value, PKOnlyObject) and value.pk is None else value

        return get_related
    attrs = field.source_attrs
    if not attrs:  # source="*": the object itself
        return lambda instance: instance

    if len(attrs) == 1:
        (attr,) = attrs

        def get_one(instance):  # the common case, without the loop
            try:
                if type(instance) is dict or isinstance(instance, Mapping):
                    value = instance[attr]
                else:
                    value = getattr(instance, attr)
            except ObjectDoesNotExist:
                return None
            except (KeyError, AttributeError):
                return field.get_attribute(instance)
            if value is not None and callable(value) and is_simple_callable(value):
                return value()
            return value

        return get_one
    last = len(attrs) - 1

    def get(instance):
        value = instance
        try:
            for position, attr in enumerate(attrs):
                if type(value) is dict or isinstance(value, Mapping):
                    value = value[attr]
                else:
                    value = getattr(value, attr)
                if value is None:
                    if position == last:
                        return None
                    raise AttributeError(attr)
                if callable(value) and is_simple_callable(value):
                    value = value()
        except ObjectDoesNotExist:
            return None
        except (KeyError, AttributeError):
            return field.get_attribute(instance)  # DRF's answer: a default, a skip or its error
        return value

    return get


def _converter(field: serializers.Field) -> Converter:
    if isinstance(field, serializers.ListSerializer):
        child = Compiled(field.child)

        def many(value, tz):
            items = value.all() if isinstance(value, Manager) else value
            return [child._represent(item, tz) for item in items]

        return many
    if isinstance(field, serializers.Serializer):
        nested = Compiled(field)
        return lambda value, tz: nested._represent(value, tz)
    if isinstance(field, serializers.DateTimeField):
        if getattr(field, "format", api_settings.DATETIME_FORMAT) == ISO_8601 and not hasattr(
            field, "timezone"
        ):
            return _datetime
    elif isinstance(field, serializers.DateField):
        if getattr(field, "format", api_settings.DATE_FORMAT) == ISO_8601:
            return lambda value, tz: value.isoformat() if value else None
    elif isinstance(field, serializers.DecimalField):
        converter = _decimal_converter(field)
        if converter is not None:
            return converter
    elif isinstance(field, serializers.ChoiceField) and not isinstance(
        field, serializers.MultipleChoiceField
    ):
        choices = field.choice_strings_to_values
        return lambda value, tz: value if value == "" else choices.get(str(value), value)
    elif isinstance(field, serializers.BooleanField):
        return lambda value, tz: value if value is True or value is False else _drf(field, value)
    elif isinstance(field, serializers.IntegerField):
        return lambda value, tz: int(value)
    elif isinstance(field, serializers.FloatField):
        return lambda value, tz: float(value)
    elif isinstance(field, serializers.CharField):
        return lambda value, tz: str(value)
    elif isinstance(field, serializers.DictField) and isinstance(field.child, _UnvalidatedField):
        return lambda value, tz: {str(key): item for key, item in value.items()}
    elif type(field) is serializers.ReadOnlyField:
        return lambda value, tz: value
    return lambda value, tz: field.to_representation(value)


def _drf(field: serializers.Field, value):
    return field.to_representation(value)


def _datetime(value, tz):
    if not value:
        return None
    if isinstance(value, str):
        return value
    if not isinstance(value, datetime):  # a date where a date-time was declared: DRF's error
        return serializers.DateTimeField().to_representation(value)
    try:
        local = value.astimezone(tz) if timezone.is_aware(value) else None
    except OverflowError:
        local = None
    if local is None:  # naive, or out of range: DRF's conversion (and its errors)
        return serializers.DateTimeField().to_representation(value)
    text = local.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _decimal_converter(field: serializers.DecimalField) -> Converter | None:
    coerce = getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
    if not coerce or field.localize or field.normalize_output or field.decimal_places is None:
        return None
    exponent = decimal.Decimal(".1") ** field.decimal_places
    rounding = field.rounding
    context = decimal.getcontext().copy()
    if field.max_digits is not None:
        context.prec = field.max_digits

    def convert(value, tz):
        if not isinstance(value, decimal.Decimal):
            value = decimal.Decimal(str(value).strip())
        return f"{value.quantize(exponent, rounding=rounding, context=context):f}"

    return convert
