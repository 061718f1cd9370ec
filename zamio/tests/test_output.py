"""Compiled output serializers give exactly what DRF's serializers give."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from rest_framework import serializers

from zamio.output import compiled


class _Inner(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    label = serializers.CharField(source="meta.label")


class _Everything(serializers.Serializer):
    count = serializers.IntegerField()
    ratio = serializers.FloatField()
    ratio_or_none = serializers.FloatField(allow_null=True)
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=[("on", "On air"), ("off", "Off air")])
    flag = serializers.BooleanField()
    at = serializers.DateTimeField()
    at_or_none = serializers.DateTimeField(allow_null=True)
    day = serializers.DateField()
    money = serializers.DecimalField(max_digits=10, decimal_places=2)
    long_money = serializers.DecimalField(max_digits=16, decimal_places=2)
    extra = serializers.DictField()
    inner = _Inner()
    inners = _Inner(many=True)
    inner_or_none = _Inner(allow_null=True)
    shout = serializers.SerializerMethodField()

    def get_shout(self, obj) -> str:
        return str(obj["title"] if isinstance(obj, dict) else obj.title).upper()


def _item(**changes):
    inner = {"id": 7, "name": "Joy FM", "meta": {"label": "A"}}
    item = {
        "count": 3,
        "ratio": 0.25,
        "ratio_or_none": None,
        "title": "Adowa",
        "status": "on",
        "flag": True,
        "at": datetime(2025, 3, 1, 10, 30, 15, 123456, tzinfo=UTC),
        "at_or_none": None,
        "day": date(2025, 3, 1),
        "money": Decimal("180.5"),
        "long_money": 12.345,  # a float where a decimal is declared: quantized the same way
        "extra": {"logged": 2, 3: "x"},
        "inner": inner,
        "inners": [inner, {**inner, "id": 8}],
        "inner_or_none": None,
    }
    item.update(changes)
    return item


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"status": "off", "flag": False, "count": 0, "money": Decimal("0")},
        {"at": datetime(2025, 7, 1, 0, 0, tzinfo=UTC), "title": "=cmd"},
        {"money": Decimal("-3.005"), "ratio": 1, "extra": {}},
        {"inners": [], "inner_or_none": {"id": 1, "name": "x", "meta": {"label": ""}}},
    ],
)
def test_a_dict_is_represented_as_drf_represents_it(changes):
    item = _item(**changes)

    assert compiled(_Everything).one(item) == _Everything(item).data


def test_objects_and_lists_are_represented_as_drf_represents_them():
    items = [SimpleNamespace(**_item()), SimpleNamespace(**_item(count=9, flag=False))]
    for obj in items:
        obj.inner = SimpleNamespace(id=1, name="n", meta=SimpleNamespace(label="L"))

    assert compiled(_Everything).many(items) == _Everything(items, many=True).data


def test_a_missing_required_attribute_fails_as_in_drf():
    item = _item()
    del item["title"]

    with pytest.raises(KeyError) as drf_error:
        _Everything(item).data  # noqa: B018 - evaluating it is the test
    with pytest.raises(KeyError) as compiled_error:
        compiled(_Everything).one(item)
    assert str(compiled_error.value) == str(drf_error.value)
