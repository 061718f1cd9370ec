"""Reading a bulk-import CSV: the template, row parsing and the contributors column.

No writes here: tracks.services.track_import_* stage the files and create the tracks.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from tracks.models import TOTAL_BASIS_POINTS, ContributorRole

COLUMNS = (
    "title",
    "artist",
    "album",
    "genre",
    "isrc",
    "iswc",
    "audio_filename",
    "cover_filename",
    "contributors",
)
OPTIONAL_COLUMNS = ("release_date", "explicit", "featured_artists")
REQUIRED_COLUMNS = ("title", "audio_filename")
MAX_ROWS = 5000

_TRUE = {"1", "true", "yes", "y"}
_FALSE = {"", "0", "false", "no", "n"}


def template_csv() -> str:
    """The downloadable template: the header and two example rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*COLUMNS, *OPTIONAL_COLUMNS])
    writer.writerow(
        [
            "Odo Nti",
            "Kwame Mensah",
            "Accra Nights",
            "Highlife",
            "GH-A01-24-00001",
            "T-034.524.680-1",
            "odo-nti.mp3",
            "odo-nti.jpg",
            "Kwame Mensah:composer:50;Kwame Mensah:performer:30;Ama Serwaa:lyricist:20",
            "2024-03-01",
            "no",
            "",
        ]
    )
    writer.writerow(
        [
            "Sunsum",
            "Kwame Mensah",
            "",
            "Afrobeats",
            "",
            "",
            "sunsum.wav",
            "",
            "Kwame Mensah:performer:100",
            "",
            "yes",
            "Efua Adjei",
        ]
    )
    return out.getvalue()


class CsvError(Exception):
    """The file as a whole cannot be read (not its rows)."""


@dataclass
class ParsedShare:
    name: str
    role: str
    basis_points: int


@dataclass
class ParsedRow:
    number: int  # 1-based data row number, as a spreadsheet user counts below the header
    title: str = ""
    artist: str = ""
    album: str = ""
    genre: str = ""
    isrc: str = ""
    iswc: str = ""
    audio_filename: str = ""
    cover_filename: str = ""
    release_date: date | None = None
    explicit: bool = False
    featured_artists: list[str] = field(default_factory=list)
    shares: list[ParsedShare] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def error(self, column: str, message: str) -> None:
        self.errors.setdefault(column, []).append(message)


def read_rows(data: bytes) -> list[ParsedRow]:
    """Parses every row, collecting each row's own errors; raises CsvError for the file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")  # Excel on Windows saves CSV this way
        except UnicodeDecodeError:
            raise CsvError("The CSV must be UTF-8 text.") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [(name or "").strip().lower() for name in reader.fieldnames or []]
    if not header:
        raise CsvError("The CSV is empty.")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise CsvError(f"The CSV lacks the column(s): {', '.join(missing)}.")
    unknown = [name for name in header if name and name not in (*COLUMNS, *OPTIONAL_COLUMNS)]
    if unknown:
        raise CsvError(f"Unknown column(s): {', '.join(unknown)}. See the template.")
    reader.fieldnames = header
    rows = []
    try:
        for number, raw in enumerate(reader, start=1):
            if number > MAX_ROWS:
                raise CsvError(f"At most {MAX_ROWS} rows per import; split the file.")
            values = {k: (v or "").strip() for k, v in raw.items() if k}
            if not any(values.values()):
                continue  # blank lines spreadsheets leave at the end
            rows.append(_parse_row(number, values))
    except csv.Error as exc:
        raise CsvError(f"The CSV is malformed: {exc}.") from None
    if not rows:
        raise CsvError("The CSV has no rows.")
    return rows


def _parse_row(number: int, values: dict[str, str]) -> ParsedRow:
    row = ParsedRow(number=number)
    for name in ("title", "artist", "album", "genre", "isrc", "iswc"):
        setattr(row, name, values.get(name, ""))
    row.audio_filename = values.get("audio_filename", "")
    row.cover_filename = values.get("cover_filename", "")
    if not row.title:
        row.error("title", "Required.")
    if not row.audio_filename:
        row.error("audio_filename", "Required: the name of the audio file in the upload.")
    released = values.get("release_date", "")
    if released:
        try:
            row.release_date = date.fromisoformat(released)
        except ValueError:
            row.error("release_date", "Use YYYY-MM-DD.")
    explicit = values.get("explicit", "").lower()
    if explicit in _TRUE:
        row.explicit = True
    elif explicit not in _FALSE:
        row.error("explicit", "Use yes or no.")
    row.featured_artists = [
        name.strip() for name in values.get("featured_artists", "").split(";") if name.strip()
    ]
    contributors = values.get("contributors", "")
    if contributors:
        row.shares = parse_contributors(contributors, row)
    return row


def parse_contributors(text: str, row: ParsedRow) -> list[ParsedShare]:
    """`name:role:percent;...` → shares in basis points; the percents must total 100."""
    shares = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        pieces = part.rsplit(":", 2)
        if len(pieces) != 3 or not pieces[0].strip():
            row.error("contributors", f"“{part}”: use name:role:percent.")
            continue
        name, role, percent = (p.strip() for p in pieces)
        role = role.lower().replace(" ", "_").replace("-", "_")
        if role not in ContributorRole.values:
            row.error("contributors", f"“{part}”: unknown role {role!r}.")
            continue
        try:
            points = Decimal(percent.rstrip("%")) * 100
        except InvalidOperation:
            row.error("contributors", f"“{part}”: {percent!r} is not a percentage.")
            continue
        if points != points.to_integral_value() or not 1 <= points <= TOTAL_BASIS_POINTS:
            row.error(
                "contributors", f"“{part}”: percent must be 0.01 to 100 with at most 2 decimals."
            )
            continue
        shares.append(ParsedShare(name=name, role=role, basis_points=int(points)))
    total = sum(share.basis_points for share in shares)
    if shares and not row.errors.get("contributors") and total != TOTAL_BASIS_POINTS:
        row.error("contributors", f"The percentages total {total / 100:g}; they must total 100.")
    return shares
