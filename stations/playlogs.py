"""The services of station playlogs: a station's own as-played log (CSV, JSON or XML),
read row by row into StationPlaylogEntry rows.

A file that cannot be read at all (not UTF-8, broken JSON/XML, an XML entity or DTD
trick, a CSV header with unknown or missing columns, too big) is refused with 400 and
nothing is stored. Otherwise every row is judged on its own: good rows are stored, bad
ones are listed with their row number, field and reason, and the upload records both.

Columns (CSV header, JSON keys, XML child elements): title, artist, isrc (optional),
start_time (ISO 8601; without an offset it is the station's local time), duration
(seconds, or m:ss / h:mm:ss). A few common aliases are accepted (see _ALIASES).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import PurePath
from typing import Any
from zoneinfo import ZoneInfo

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from stations.models import PlaylogFormat, Station, StationPlaylog, StationPlaylogEntry
from users.models import Role, User
from users.services import audit_record
from zamio.errors import Conflict, Forbidden, NotFound, ValidationFailed

COLUMNS = ("title", "artist", "isrc", "start_time", "duration")
REQUIRED = ("title", "artist", "start_time", "duration")
_ALIASES = {
    "song": "title",
    "track": "title",
    "track_title": "title",
    "performer": "artist",
    "artist_name": "artist",
    "start": "start_time",
    "started_at": "start_time",
    "start_at": "start_time",
    "played_at": "start_time",
    "duration_seconds": "duration",
    "length": "duration",
}
# Cells a spreadsheet would run as a formula (CSV injection): refused wherever they appear,
# since entries are shown and exported again (comparison CSV).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_ISRC = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}\d{7}$")
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2}(?:\.\d+)?)$")
MAX_DURATION_SECONDS = 6 * 3600  # longer is not one airing of one song
MAX_AGE_DAYS = 400
FUTURE_SLACK = timedelta(minutes=5)


@dataclass
class RowProblem:
    row: int
    field: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "reason": self.reason}


@dataclass
class ParsedRow:
    row: int
    title: str
    artist: str
    isrc: str
    started_at: datetime
    duration: Decimal


@dataclass
class ParseResult:
    rows: list[ParsedRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    total: int = 0


def _column(name: Any) -> str:
    key = re.sub(r"[\s\-]+", "_", str(name).strip().lower())
    return _ALIASES.get(key, key)


def _malformed(message: str, detail: str) -> ValidationFailed:
    return ValidationFailed(message, details={"file": [detail]}, code="malformed_playlog")


# --- Reading the three formats into (row number, {column: text}) -------------------------------
def _records_csv(text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise _malformed("The file is empty.", "No header row.") from None
    except csv.Error as exc:
        raise _malformed("The CSV cannot be read.", str(exc)) from None
    columns = [_column(c) for c in header]
    unknown = sorted({c for c in columns if c not in COLUMNS})
    if unknown:
        raise ValidationFailed(
            "The header has columns this log format does not have.",
            details={"columns": [f"Unknown column {c!r}." for c in unknown]},
            code="unknown_columns",
        )
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ValidationFailed(
            "The header misses required columns.",
            details={"columns": [f"Missing column {c!r}." for c in missing]},
            code="missing_columns",
        )
    if len(set(columns)) != len(columns):
        raise _malformed("The header names a column twice.", ", ".join(header))
    records = []
    try:
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            if len(cells) != len(columns):
                records.append((number, {"__cells__": len(cells), "__expected__": len(columns)}))
                continue
            records.append((number, dict(zip(columns, cells, strict=True))))
    except csv.Error as exc:
        raise _malformed("The CSV cannot be read.", str(exc)) from None
    return records


def _records_json(text: str) -> list[tuple[int, dict[str, Any]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _malformed("The JSON cannot be read.", str(exc)) from None
    if isinstance(data, dict) and isinstance(data.get("entries"), list):
        data = data["entries"]
    if not isinstance(data, list):
        raise _malformed("The JSON is not a list of entries.", 'Use [{...}] or {"entries": [...]}.')
    records = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            records.append((number, {"__not_object__": True}))
        else:
            records.append((number, {_column(k): v for k, v in item.items()}))
    return records


def _records_xml(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise _malformed(
            "XML with a DTD or entity declarations is refused.", type(exc).__name__
        ) from None
    except SafeET.ParseError as exc:
        raise _malformed("The XML cannot be read.", str(exc)) from None
    records = []
    for number, element in enumerate(list(root), start=1):
        values: dict[str, Any] = {}
        for child in element:
            values[_column(child.tag)] = child.text or ""
        for name, value in element.attrib.items():
            values.setdefault(_column(name), value)
        records.append((number, values))
    return records


# --- Judging one row --------------------------------------------------------------------------
def _duration(text: str) -> Decimal:
    text = text.strip()
    clock = _CLOCK.match(text)
    if clock:
        hours, minutes, seconds = clock.groups()
        value = Decimal(hours or 0) * 3600 + Decimal(minutes) * 60 + Decimal(seconds)
    else:
        value = Decimal(text)
    if not value.is_finite():
        raise InvalidOperation
    return value.quantize(Decimal("0.01"))


def _start(text: str, tz: ZoneInfo) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value


def _row_parse(
    number: int, values: dict[str, Any], *, tz: ZoneInfo, now: datetime
) -> ParsedRow | RowProblem:
    if "__cells__" in values:
        return RowProblem(
            number, "", f"Has {values['__cells__']} cells; the header has {values['__expected__']}."
        )
    if "__not_object__" in values:
        return RowProblem(number, "", "Is not an object with the log's fields.")
    unknown = sorted(k for k in values if k not in COLUMNS)
    if unknown:
        return RowProblem(number, unknown[0], f"Unknown field {unknown[0]!r}.")
    cells: dict[str, str] = {}
    for name in COLUMNS:
        value = values.get(name)
        if value is None:
            value = ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return RowProblem(number, name, "Is not text or a number.")
        text = str(value)
        if isinstance(value, str) and text.startswith(FORMULA_PREFIXES):
            return RowProblem(
                number, name, f"Starts with {text[0]!r}, which a spreadsheet runs as a formula."
            )
        cells[name] = text.strip()
    for name in REQUIRED:
        if not cells[name]:
            return RowProblem(number, name, "Is empty.")
    if len(cells["title"]) > 300 or len(cells["artist"]) > 300:
        field_name = "title" if len(cells["title"]) > 300 else "artist"
        return RowProblem(number, field_name, "Is longer than 300 characters.")
    isrc = cells["isrc"].replace("-", "").replace(" ", "").upper()
    if isrc and not _ISRC.match(isrc):
        return RowProblem(number, "isrc", "Is not an ISRC (CC-XXX-YY-NNNNN).")
    try:
        started_at = _start(cells["start_time"], tz)
    except ValueError:
        return RowProblem(number, "start_time", "Is not an ISO 8601 date and time.")
    try:
        duration = _duration(cells["duration"])
    except (InvalidOperation, ValueError):
        return RowProblem(number, "duration", "Is not a number of seconds or a m:ss time.")
    if duration <= 0:
        return RowProblem(number, "duration", "Is not positive.")
    if duration > MAX_DURATION_SECONDS:
        return RowProblem(number, "duration", "Is longer than 6 hours.")
    if started_at + timedelta(seconds=float(duration)) > now + FUTURE_SLACK:
        return RowProblem(number, "start_time", "Ends in the future.")
    if started_at < now - timedelta(days=MAX_AGE_DAYS):
        return RowProblem(number, "start_time", f"Is more than {MAX_AGE_DAYS} days ago.")
    return ParsedRow(
        row=number,
        title=" ".join(cells["title"].split()),
        artist=" ".join(cells["artist"].split()),
        isrc=isrc,
        started_at=started_at,
        duration=duration,
    )


def format_of(*, name: str, declared: str | None) -> str:
    if declared:
        if declared not in PlaylogFormat.values:
            raise ValidationFailed("Unknown format.", details={"format": [declared]})
        return declared
    suffix = PurePath(name or "").suffix.lower().lstrip(".")
    if suffix not in PlaylogFormat.values:
        raise ValidationFailed(
            "Name the format, or upload a .csv, .json or .xml file.",
            details={"format": ["Could not tell the format from the file name."]},
        )
    return suffix


def playlog_parse(*, data: bytes, file_format: str, tz: ZoneInfo, now: datetime) -> ParseResult:
    """Reads a log into good rows and row-level problems; raises ValidationFailed for a
    file that cannot be read at all. Stores nothing."""
    if len(data) > settings.STATIONS_PLAYLOG_MAX_BYTES:
        raise ValidationFailed(
            "The file is too large.",
            details={"file": [f"At most {settings.STATIONS_PLAYLOG_MAX_BYTES} bytes."]},
        )
    if file_format == PlaylogFormat.XML:
        records = _records_xml(data)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _malformed("The file is not UTF-8 text.", "Save it as UTF-8.") from None
        records = _records_csv(text) if file_format == PlaylogFormat.CSV else _records_json(text)
    if len(records) > settings.STATIONS_PLAYLOG_MAX_ROWS:
        raise ValidationFailed(
            "The file has too many rows.",
            details={"file": [f"At most {settings.STATIONS_PLAYLOG_MAX_ROWS} rows per upload."]},
        )
    result = ParseResult(total=len(records))
    seen: dict[tuple[datetime, str], int] = {}
    for number, values in records:
        parsed = _row_parse(number, values, tz=tz, now=now)
        if isinstance(parsed, RowProblem):
            result.problems.append(parsed)
            continue
        key = (parsed.started_at, parsed.title.lower())
        if key in seen:
            result.problems.append(
                RowProblem(number, "start_time", f"Repeats row {seen[key]} (same title and start).")
            )
            continue
        seen[key] = number
        result.rows.append(parsed)
    return result


def _may_upload(actor: User, station: Station) -> bool:
    if actor.role == Role.ADMIN:
        return actor.staff_role in ("support", "superadmin")
    return actor.role == Role.STATION and station.staff.filter(user=actor).exists()


def playlog_upload(
    *,
    actor: User,
    station_id: int,
    name: str,
    data: bytes,
    file_format: str | None = None,
) -> StationPlaylog:
    """Stores a station's as-played log: the good rows as entries, the bad ones listed with
    row-level reasons (an entry already logged by an earlier upload is one of them).
    Station accounts upload their own station's log, support staff any. Audited."""
    station = Station.objects.filter(pk=station_id).first()
    if station is None:
        raise NotFound("No such station.")
    if not _may_upload(actor, station):
        raise Forbidden("You cannot upload logs for this station.")
    file_format = format_of(name=name, declared=file_format)
    parsed = playlog_parse(
        data=data, file_format=file_format, tz=ZoneInfo(station.timezone), now=timezone.now()
    )
    problems = list(parsed.problems)
    rows = parsed.rows
    if rows:
        starts = [r.started_at for r in rows]
        logged = set(
            StationPlaylogEntry.objects.filter(
                station=station, started_at__gte=min(starts), started_at__lte=max(starts)
            )
            .annotate(title_key=Lower("title"))
            .values_list("started_at", "title_key")
        )
        fresh = []
        for row in rows:
            if (row.started_at, row.title.lower()) in logged:
                problems.append(
                    RowProblem(row.row, "start_time", "Already logged by an earlier upload.")
                )
            else:
                fresh.append(row)
        rows = fresh
    problems.sort(key=lambda p: p.row)
    try:
        with transaction.atomic():
            playlog = StationPlaylog.objects.create(
                station=station,
                uploaded_by=actor,
                file_format=file_format,
                original_name=PurePath(name or f"playlog.{file_format}").name[:255],
                size_bytes=len(data),
                rows_total=parsed.total,
                rows_accepted=len(rows),
                rows_rejected=len(problems),
                rejections=[p.as_dict() for p in problems],
                first_started_at=min((r.started_at for r in rows), default=None),
                last_started_at=max((r.started_at for r in rows), default=None),
            )
            StationPlaylogEntry.objects.bulk_create(
                [
                    StationPlaylogEntry(
                        playlog=playlog,
                        station=station,
                        row_number=r.row,
                        title=r.title,
                        artist=r.artist,
                        isrc=r.isrc,
                        started_at=r.started_at,
                        duration_seconds=r.duration,
                        ended_at=r.started_at + timedelta(seconds=float(r.duration)),
                    )
                    for r in rows
                ],
                batch_size=2000,
            )
            audit_record(
                actor=actor,
                action="stations.playlog_upload",
                target=playlog,
                after={
                    "station_id": station.pk,
                    "rows_total": parsed.total,
                    "rows_accepted": len(rows),
                    "rows_rejected": len(problems),
                },
            )
    except IntegrityError:
        raise Conflict(
            "The same entries were being uploaded at the same moment; upload again to see "
            "which rows are new.",
            code="playlog_concurrent_upload",
        ) from None
    return playlog


def playlog_delete(*, actor: User, playlog_id: int) -> None:
    """Removes an upload and its entries (a wrong file); the station's own accounts or
    support staff. Audited."""
    playlog = StationPlaylog.objects.select_related("station").filter(pk=playlog_id).first()
    if playlog is None or not _may_upload(actor, playlog.station):
        raise NotFound("No such playlog.")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="stations.playlog_delete",
            target=playlog,
            before={"rows_accepted": playlog.rows_accepted, "name": playlog.original_name},
        )
        playlog.delete()
