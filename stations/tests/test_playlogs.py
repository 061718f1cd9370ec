"""Station playlog uploads in CSV, JSON and XML: good rows stored, bad rows listed with
their reasons, unreadable files refused whole."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from conftest import make_user
from stations import playlogs
from stations.models import StationPlaylog, StationPlaylogEntry, StationStaff
from stations.tests.factories import StationFactory
from zamio.errors import Forbidden, NotFound, ValidationFailed

pytestmark = pytest.mark.django_db

DAY = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def at(minutes: int) -> str:
    return (DAY + timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def station_user(db):
    station = StationFactory(timezone="Africa/Accra")
    user = make_user("station")
    StationStaff.objects.create(station=station, user=user, role="staff")
    return station, user


def _upload(station_user, name: str, data: bytes, file_format=None) -> StationPlaylog:
    station, user = station_user
    return playlogs.playlog_upload(
        actor=user, station_id=station.pk, name=name, data=data, file_format=file_format
    )


def _rows(playlog: StationPlaylog) -> list[tuple]:
    return list(
        playlog.entries.order_by("row_number").values_list(
            "row_number", "title", "artist", "isrc", "duration_seconds"
        )
    )


def test_csv_good_rows_are_stored_and_bad_rows_listed_with_reasons(station_user):
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    naive_local = (DAY + timedelta(minutes=40)).replace(tzinfo=None).isoformat()
    csv_text = "\n".join(
        [
            "Title,Artist,ISRC,Start_Time,Duration",
            f"Adowa Dance,Ama Serwaa,GH-A01-25-00001,{at(0)},180",
            f'"=HYPERLINK(""http://evil"")",Mallory,,{at(5)},200',
            f"Kpanlogo,Kojo,,{at(10)},3:05",
            f"Borborbor,@cmd,,{at(15)},120",
            f"Highlife,Yaw,,{future},200",
            f"Negative,Yaw,,{at(20)},-5",
            "No time,Yaw,,yesterday,200",
            f"Bad ISRC,Yaw,123,{at(25)},200",
            f"Too many,Yaw,,{at(30)},200,extra",
            f"Adowa Dance,Ama Serwaa,,{at(0)},180",
            "",
            f"Local time,Efua,,{naive_local},1:00:00",
        ]
    )

    playlog = _upload(station_user, "log.csv", csv_text.encode())

    assert (playlog.file_format, playlog.rows_total, playlog.rows_accepted) == ("csv", 11, 3)
    assert _rows(playlog) == [
        (2, "Adowa Dance", "Ama Serwaa", "GHA012500001", Decimal("180.00")),
        (4, "Kpanlogo", "Kojo", "", Decimal("185.00")),
        (13, "Local time", "Efua", "", Decimal("3600.00")),
    ]
    assert playlog.rejections == [
        {
            "row": 3,
            "field": "title",
            "reason": "Starts with '=', which a spreadsheet runs as a formula.",
        },
        {
            "row": 5,
            "field": "artist",
            "reason": "Starts with '@', which a spreadsheet runs as a formula.",
        },
        {"row": 6, "field": "start_time", "reason": "Ends in the future."},
        {
            "row": 7,
            "field": "duration",
            "reason": "Starts with '-', which a spreadsheet runs as a formula.",
        },
        {"row": 8, "field": "start_time", "reason": "Is not an ISO 8601 date and time."},
        {"row": 9, "field": "isrc", "reason": "Is not an ISRC (CC-XXX-YY-NNNNN)."},
        {"row": 10, "field": "", "reason": "Has 6 cells; the header has 5."},
        {"row": 11, "field": "start_time", "reason": "Repeats row 2 (same title and start)."},
    ]
    assert playlog.rows_rejected == 8
    local = StationPlaylogEntry.objects.get(title="Local time")
    assert local.started_at == DAY + timedelta(minutes=40)  # Accra is UTC+0


def test_json_rows_with_unknown_fields_wrong_types_and_impossible_durations(station_user):
    data = {
        "entries": [
            {"title": "Adowa Dance", "artist": "Ama", "start_time": at(0), "duration": 180},
            {"title": "Extra", "artist": "Ama", "start_time": at(5), "duration": 60, "dj": "Kwame"},
            {"title": "Nested", "artist": ["Ama"], "start_time": at(10), "duration": 60},
            {"title": "Zero", "artist": "Ama", "start_time": at(15), "duration": 0},
            {"title": "Negative", "artist": "Ama", "start_time": at(16), "duration": -30},
            {"title": "Marathon", "artist": "Ama", "start_time": at(20), "duration": 90000},
            {
                "title": "Ancient",
                "artist": "Ama",
                "start_time": "2001-01-01T00:00:00Z",
                "duration": 60,
            },
            "not an object",
            {"song": "Alias", "performer": "Kofi", "played_at": at(30), "length": "2:30"},
        ]
    }

    playlog = _upload(station_user, "log.json", json.dumps(data).encode())

    assert _rows(playlog) == [
        (1, "Adowa Dance", "Ama", "", Decimal("180.00")),
        (9, "Alias", "Kofi", "", Decimal("150.00")),
    ]
    assert playlog.rejections == [
        {"row": 2, "field": "dj", "reason": "Unknown field 'dj'."},
        {"row": 3, "field": "artist", "reason": "Is not text or a number."},
        {"row": 4, "field": "duration", "reason": "Is not positive."},
        {"row": 5, "field": "duration", "reason": "Is not positive."},
        {"row": 6, "field": "duration", "reason": "Is longer than 6 hours."},
        {"row": 7, "field": "start_time", "reason": "Is more than 400 days ago."},
        {"row": 8, "field": "", "reason": "Is not an object with the log's fields."},
    ]


def test_xml_good_and_bad_rows(station_user):
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<playlog>
  <entry><title>Adowa Dance</title><artist>Ama</artist><isrc>GHA012500001</isrc>
         <start_time>{at(0)}</start_time><duration>180</duration></entry>
  <entry><title>+SUM(A1:A9)</title><artist>Ama</artist>
         <start_time>{at(5)}</start_time><duration>60</duration></entry>
  <entry><title>Kpanlogo</title><artist>Kojo</artist><mood>happy</mood>
         <start_time>{at(10)}</start_time><duration>60</duration></entry>
  <entry title="Attributes" artist="Efua" start_time="{at(20)}" duration="95.5"/>
</playlog>"""

    playlog = _upload(station_user, "log.xml", xml.encode())

    assert _rows(playlog) == [
        (1, "Adowa Dance", "Ama", "GHA012500001", Decimal("180.00")),
        (4, "Attributes", "Efua", "", Decimal("95.50")),
    ]
    assert playlog.rejections == [
        {
            "row": 2,
            "field": "title",
            "reason": "Starts with '+', which a spreadsheet runs as a formula.",
        },
        {"row": 3, "field": "mood", "reason": "Unknown field 'mood'."},
    ]


def test_an_xml_entity_expansion_bomb_is_refused_whole(station_user):
    bomb = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<playlog><entry><title>&lol4;</title><artist>x</artist>
<start_time>2025-01-01T00:00:00Z</start_time><duration>1</duration></entry></playlog>"""

    with pytest.raises(ValidationFailed) as refused:
        _upload(station_user, "bomb.xml", bomb.encode())

    assert refused.value.code == "malformed_playlog"
    assert refused.value.message == "XML with a DTD or entity declarations is refused."
    assert StationPlaylog.objects.count() == 0
    assert StationPlaylogEntry.objects.count() == 0


def test_an_external_entity_is_refused_too(station_user):
    xxe = """<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<playlog><entry><title>&secret;</title></entry></playlog>"""

    with pytest.raises(ValidationFailed):
        _upload(station_user, "xxe.xml", xxe.encode())
    assert StationPlaylog.objects.count() == 0


@pytest.mark.parametrize(
    "name, data, code",
    [
        (
            "log.csv",
            b"title,artist,start_time,duration,presenter\nA,B,2025-01-01T00:00:00Z,1,X\n",
            "unknown_columns",
        ),
        ("log.csv", b"title,artist,duration\nA,B,1\n", "missing_columns"),
        ("log.csv", b"", "malformed_playlog"),
        ("log.csv", b"\xff\xfe\x00t\x00i", "malformed_playlog"),
        ("log.json", b'{"entries": [', "malformed_playlog"),
        ("log.json", b'{"rows": []}', "malformed_playlog"),
        ("log.xml", b"<playlog><entry>", "malformed_playlog"),
        ("log.txt", b"title\n", "invalid"),
    ],
)
def test_unreadable_files_are_refused_and_nothing_is_stored(station_user, name, data, code):
    with pytest.raises(ValidationFailed) as refused:
        _upload(station_user, name, data)

    assert refused.value.code == code
    assert StationPlaylog.objects.count() == 0


def test_a_log_uploaded_again_stores_only_its_new_rows(station_user):
    first = f"title,artist,start_time,duration\nA,X,{at(0)},60\nB,X,{at(5)},60\n"
    second = first + f"C,X,{at(10)},60\n"

    _upload(station_user, "day.csv", first.encode())
    again = _upload(station_user, "day.csv", second.encode())

    assert _rows(again) == [(4, "C", "X", "", Decimal("60.00"))]
    assert again.rejections == [
        {"row": 2, "field": "start_time", "reason": "Already logged by an earlier upload."},
        {"row": 3, "field": "start_time", "reason": "Already logged by an earlier upload."},
    ]
    assert StationPlaylogEntry.objects.count() == 3


def test_only_the_stations_own_accounts_and_support_staff_upload(station_user):
    station, _user = station_user
    other = StationFactory()
    outsider = make_user("station")
    StationStaff.objects.create(station=other, user=outsider)
    data = f"title,artist,start_time,duration\nA,X,{at(0)},60\n".encode()

    with pytest.raises(Forbidden):
        playlogs.playlog_upload(actor=outsider, station_id=station.pk, name="l.csv", data=data)
    with pytest.raises(Forbidden):
        playlogs.playlog_upload(
            actor=make_user("admin", staff_role="finance"),
            station_id=station.pk,
            name="l.csv",
            data=data,
        )
    with pytest.raises(NotFound):
        playlogs.playlog_upload(actor=outsider, station_id=999999, name="l.csv", data=data)
    assert StationPlaylog.objects.count() == 0

    by_support = playlogs.playlog_upload(
        actor=make_user("admin", staff_role="support"),
        station_id=station.pk,
        name="l.csv",
        data=data,
    )
    assert by_support.rows_accepted == 1
