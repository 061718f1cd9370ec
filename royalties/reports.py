"""Statements, invoices, period summaries and CMO exports, as CSV and PDF.

Each report is built as one `Table` (title, parties, columns, rows, totals) from the
database, then rendered. CSVs are deterministic: fixed column order, fixed row order
(with ids as the last tie-breaker), amounts as plain "1234.56", times in the
station's or platform's zone, and no generation timestamp, so re-generating a
closed period gives the same bytes. The PDF shows the same table with a header
naming the parties and the period, and the totals in bold.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone

from royalties.models import (
    CalculationKind,
    PayeeType,
    PlayRoyalty,
    ReportFile,
    ReportFormat,
    ReportKind,
    RoyaltyLine,
    RoyaltyPeriod,
    StationInvoice,
)
from royalties.selectors import SplitBook
from users.models import User

ZERO = Decimal("0.00")
WORK_ROLES = {"composer", "lyricist", "composer_lyricist", "arranger", "publisher"}


@dataclass
class Table:
    title: str
    parties: list[tuple[str, str]]  # (label, value) lines of the header
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    totals: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    # Column indexes right-aligned in the PDF (numbers).
    numeric: set[int] = field(default_factory=set)
    # PDF relative column widths; None = equal.
    widths: list[float] | None = None


def money(value: Decimal | None) -> str:
    return f"{(value or ZERO).quantize(Decimal('0.01'))}"


def seconds(value: Decimal | None) -> str:
    return f"{(value or ZERO).quantize(Decimal('0.01'))}"


def _period_party(period: RoyaltyPeriod) -> tuple[str, str]:
    start = timezone.localtime(period.starts_at)
    end = timezone.localtime(period.ends_at)
    return ("Period", f"{period.label} ({start:%Y-%m-%d} to {end:%Y-%m-%d}, {period.status})")


def _issuer() -> tuple[str, str]:
    return ("Issued by", settings.ROYALTIES_ISSUER_NAME)


# --- Payee statement ------------------------------------------------------------------------
def statement_table(period: RoyaltyPeriod, user: User) -> Table:
    """Per track and station: plays, airtime and amount paid to `user`; adjustments apart."""
    lines = RoyaltyLine.objects.filter(period=period, user=user)
    amounts = (
        lines.values(
            "play_royalty__track_id",
            "play_royalty__track__title",
            "play_royalty__track__isrc",
            "play_royalty__station_id",
            "play_royalty__station__name",
            "kind",
        )
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    plays = (
        PlayRoyalty.objects.filter(
            pk__in=lines.values("play_royalty_id"),
            kind=CalculationKind.REGULAR,
            below_minimum=False,
        )
        .values("track_id", "station_id")
        .annotate(plays=Count("id"), airtime=Sum("duration_seconds"))
        .order_by()
    )
    airplay = {(p["track_id"], p["station_id"]): p for p in plays}
    rows = []
    for a in amounts:
        key = (a["play_royalty__track_id"], a["play_royalty__station_id"])
        regular = a["kind"] == CalculationKind.REGULAR
        p = airplay.get(key, {}) if regular else {}
        rows.append(
            (
                a["play_royalty__track__title"],
                a["play_royalty__station__name"],
                0 if regular else 1,
                key,
                [
                    a["play_royalty__track__title"],
                    a["play_royalty__track__isrc"],
                    a["play_royalty__station__name"],
                    "airplay" if regular else "adjustment",
                    str(p.get("plays", 0)),
                    seconds(p.get("airtime")),
                    money(a["amount"]),
                ],
            )
        )
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    total_amount = sum((Decimal(r[4][6]) for r in rows), ZERO)
    total_plays = sum(int(r[4][4]) for r in rows)
    total_airtime = sum((Decimal(r[4][5]) for r in rows), ZERO)
    name = _payee_name(user)
    return Table(
        title=f"Royalty statement {period.label}",
        parties=[
            _issuer(),
            ("Payee", f"{name} <{user.email}>"),
            _period_party(period),
            ("Currency", settings.CURRENCY),
        ],
        columns=["track", "isrc", "station", "type", "plays", "airtime_seconds", "amount"],
        rows=[r[4] for r in rows],
        totals=["TOTAL", "", "", "", str(total_plays), seconds(total_airtime), money(total_amount)],
        numeric={4, 5, 6},
        widths=[3.2, 1.4, 2.4, 1.1, 0.8, 1.2, 1.2],
        notes=[
            "Amounts are your share after the CMO administration fee, in pesewa precision.",
            "Adjustments correct plays of earlier, already closed periods.",
        ],
    )


def _payee_name(user: User) -> str:
    artist = getattr(user, "artist_profile", None)
    publisher = getattr(user, "publisher_profile", None)
    if artist is not None:
        return artist.stage_name
    if publisher is not None:
        return publisher.name
    return user.get_full_name() if hasattr(user, "get_full_name") else user.email


# --- Station invoice ------------------------------------------------------------------------
def invoice_table(invoice: StationInvoice) -> Table:
    station = invoice.station
    rows = [
        [
            line.title,
            line.artist,
            str(line.plays_count),
            seconds(line.airtime_seconds),
            money(line.amount),
        ]
        for line in invoice.lines.order_by("title", "track_id")
    ]
    return Table(
        title=f"Invoice {invoice.number}",
        parties=[
            _issuer(),
            ("Bill to", f"{station.name} ({station.call_sign or station.frequency or '-'})"),
            ("Station class", station.station_class),
            _period_party(invoice.period),
            ("Issued", f"{timezone.localtime(invoice.issued_at):%Y-%m-%d}"),
            ("Due", f"{invoice.due_date:%Y-%m-%d}"),
            ("Status", invoice.get_status_display()),
        ],
        columns=["track", "artist", "plays", "airtime_seconds", "amount"],
        rows=rows,
        totals=[
            "SUBTOTAL",
            "",
            str(invoice.plays_count),
            seconds(invoice.airtime_seconds),
            money(invoice.subtotal),
        ],
        numeric={2, 3, 4},
        widths=[3.4, 2.4, 0.9, 1.3, 1.3],
        notes=[
            f"VAT {invoice.vat_percent}%: GHS {money(invoice.vat_amount)}",
            f"Total due: GHS {money(invoice.total)}",
        ],
    )


def invoice_csv_rows(table: Table, invoice: StationInvoice) -> list[list[str]]:
    return [
        ["VAT", "", "", f"{invoice.vat_percent}%", money(invoice.vat_amount)],
        ["TOTAL", "", "", "", money(invoice.total)],
    ]


# --- Staff summary --------------------------------------------------------------------------
def summary_table(period: RoyaltyPeriod) -> Table:
    counted = Q(kind=CalculationKind.REGULAR, below_minimum=False)
    per_station = (
        PlayRoyalty.objects.filter(period=period)
        .values("station_id", "station__name", "station__station_class")
        .annotate(
            plays=Count("id", filter=counted),
            airtime=Sum("duration_seconds", filter=counted),
            gross=Sum("gross"),
        )
        .order_by("station__name", "station_id")
    )
    fees = dict(
        RoyaltyLine.objects.filter(period=period, payee_type=PayeeType.CMO)
        .values("play_royalty__station_id")
        .annotate(s=Sum("amount"))
        .order_by()
        .values_list("play_royalty__station_id", "s")
    )
    invoices = {i.station_id: i for i in StationInvoice.objects.filter(period=period)}
    rows, totals = [], defaultdict(Decimal)
    plays_total = 0
    for s in per_station:
        fee = fees.get(s["station_id"]) or ZERO
        gross = s["gross"] or ZERO
        invoice = invoices.get(s["station_id"])
        rows.append(
            [
                s["station__name"],
                s["station__station_class"],
                str(s["plays"]),
                seconds(s["airtime"]),
                money(gross),
                money(fee),
                money(gross - fee),
                invoice.number if invoice else "",
                money(invoice.vat_amount if invoice else ZERO),
                money(invoice.total if invoice else ZERO),
            ]
        )
        plays_total += s["plays"]
        totals["airtime"] += s["airtime"] or ZERO
        totals["gross"] += gross
        totals["fee"] += fee
        totals["vat"] += invoice.vat_amount if invoice else ZERO
        totals["invoiced"] += invoice.total if invoice else ZERO
    by_type = dict(
        RoyaltyLine.objects.filter(period=period)
        .values("payee_type")
        .annotate(s=Sum("amount"))
        .order_by()
        .values_list("payee_type", "s")
    )
    unclaimed = (
        RoyaltyLine.objects.filter(period=period, user__isnull=True)
        .exclude(payee_type=PayeeType.CMO)
        .aggregate(s=Sum("amount"))["s"]
    )
    return Table(
        title=f"Royalty period summary {period.label}",
        parties=[_issuer(), _period_party(period), ("Currency", settings.CURRENCY)],
        columns=[
            "station",
            "class",
            "plays",
            "airtime_seconds",
            "gross",
            "cmo_fee",
            "net_to_rights_holders",
            "invoice",
            "vat",
            "invoice_total",
        ],
        rows=rows,
        totals=[
            "TOTAL",
            "",
            str(plays_total),
            seconds(totals["airtime"]),
            money(totals["gross"]),
            money(totals["fee"]),
            money(totals["gross"] - totals["fee"]),
            "",
            money(totals["vat"]),
            money(totals["invoiced"]),
        ],
        numeric={2, 3, 4, 5, 6, 8, 9},
        widths=[2.6, 0.9, 0.8, 1.2, 1.1, 1.0, 1.2, 1.9, 0.9, 1.1],
        notes=[
            f"Contributors: GHS {money(by_type.get(PayeeType.CONTRIBUTOR))}; "
            f"publishers: GHS {money(by_type.get(PayeeType.PUBLISHER))}; "
            f"unallocated (no splits): GHS {money(by_type.get(PayeeType.UNALLOCATED))}; "
            f"unclaimed (no account): GHS {money(unclaimed)}.",
        ],
    )


# --- CMO export -----------------------------------------------------------------------------
CMO_COLUMNS = [
    "station",
    "call_sign",
    "station_class",
    "date",
    "time",
    "duration_seconds",
    "title",
    "performers",
    "isrc",
    "iswc",
    "composers_publishers",
    "number_of_plays",
    "gross_amount",
]


def _works_credit(shares) -> str:
    parts = []
    for share in sorted(shares, key=lambda s: (s.role, s.name, s.contributor_id)):
        if share.role in WORK_ROLES:
            ipi = f", IPI {share.ipi}" if share.ipi else ""
            parts.append(f"{share.name} ({share.role}{ipi})")
    return "; ".join(parts)


def cmo_export_rows(period: RoyaltyPeriod):
    """One row per airing of the period (number_of_plays = 1), in station, time order."""
    from tracks.models import Track

    base = PlayRoyalty.objects.filter(period=period, kind=CalculationKind.REGULAR)
    track_ids = list(base.values_list("track_id", flat=True).distinct().order_by())
    splits = SplitBook(track_ids)
    performers: dict[int, list[str]] = defaultdict(list)
    through = Track.featured_artists.through
    for track_id, primary in Track.objects.filter(pk__in=track_ids).values_list(
        "pk", "primary_artist__stage_name"
    ):
        performers[track_id].insert(0, primary)
    for track_id, name in (
        through.objects.filter(track_id__in=track_ids)
        .order_by("track_id", "artist__stage_name", "artist_id")
        .values_list("track_id", "artist__stage_name")
    ):
        performers[track_id].append(name)
    credits: dict[tuple[int, int | None], str] = {}
    rows = (
        base.order_by("station__name", "station_id", "played_at", "id")
        .values_list(
            "station__name",
            "station__call_sign",
            "station__station_class",
            "station__timezone",
            "played_at",
            "duration_seconds",
            "track_id",
            "track__title",
            "track__isrc",
            "track__iswc",
            "gross",
        )
        .iterator(chunk_size=5000)
    )
    zones: dict[str, ZoneInfo] = {}
    for name, call_sign, klass, tz, played_at, duration, track_id, title, isrc, iswc, gross in rows:
        zone = zones.setdefault(tz, ZoneInfo(tz or settings.TIME_ZONE))
        local = played_at.astimezone(zone)
        version = splits.version_at(track_id, played_at)
        credit = credits.get((track_id, version))
        if credit is None:
            credit = _works_credit(splits.shares_at(track_id, played_at))
            credits[(track_id, version)] = credit
        yield [
            name,
            call_sign,
            klass,
            f"{local:%Y-%m-%d}",
            f"{local:%H:%M:%S}",
            seconds(duration),
            title,
            " / ".join(performers.get(track_id, [])),
            isrc,
            iswc,
            credit,
            "1",
            money(gross),
        ]


def cmo_export_table(period: RoyaltyPeriod) -> Table:
    """The PDF is for people: one row per station and track with its number of plays."""
    table = Table(
        title=f"CMO airplay export {period.label}",
        parties=[_issuer(), ("To", settings.ROYALTIES_CMO_NAME), _period_party(period)],
        columns=[],
    )
    plays, airtime, gross = 0, ZERO, ZERO
    grouped: dict[tuple, list] = {}
    for row in cmo_export_rows(period):
        key = (row[0], row[6], row[8], row[7], row[9], row[10])
        entry = grouped.setdefault(key, [0, ZERO, ZERO])
        entry[0] += 1
        entry[1] += Decimal(row[5])
        entry[2] += Decimal(row[12])
    table.columns = [
        "station",
        "title",
        "isrc",
        "performers",
        "iswc",
        "composers_publishers",
        "plays",
        "airtime_seconds",
        "gross",
    ]
    table.numeric = {6, 7, 8}
    table.widths = [1.6, 1.8, 1.2, 1.5, 1.2, 2.6, 0.6, 1.0, 0.9]
    for key in sorted(grouped):
        count, secs, amount = grouped[key]
        table.rows.append([*key, str(count), seconds(secs), money(amount)])
        plays += count
        airtime += secs
        gross += amount
    table.totals = ["TOTAL", "", "", "", "", "", str(plays), seconds(airtime), money(gross)]
    table.notes = ["One row per station and track; the CSV export has one row per airing."]
    return table


# --- Rendering ------------------------------------------------------------------------------
def _csv_bytes(columns: list[str], rows, totals: list[str] | None, extra=()) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(row)
    if totals is not None:
        writer.writerow(totals)
    for row in extra:
        writer.writerow(row)
    return buffer.getvalue().encode("utf-8")


def _cmo_csv(period: RoyaltyPeriod) -> bytes:
    plays, airtime, gross = 0, ZERO, ZERO

    def counted():
        nonlocal plays, airtime, gross
        for row in cmo_export_rows(period):
            plays += 1
            airtime += Decimal(row[5])
            gross += Decimal(row[12])
            yield row

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CMO_COLUMNS)
    writer.writerows(counted())
    writer.writerow(
        ["TOTAL", "", "", "", "", seconds(airtime), "", "", "", "", "", str(plays), money(gross)]
    )
    return buffer.getvalue().encode("utf-8")


def pdf_bytes(table: Table) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as PdfTable

    buffer = io.BytesIO()
    wide = len(table.columns) > 7
    pagesize = landscape(A4) if wide else A4
    doc = SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=14 * mm,
        bottomMargin=16 * mm,
        title=table.title,
        author=settings.ROYALTIES_ISSUER_NAME,
        invariant=1,  # no creation date or random id: the same table gives the same bytes
    )
    styles = getSampleStyleSheet()
    cell = styles["BodyText"].clone("cell", fontSize=7.5, leading=9)
    head = cell.clone("head", fontName="Helvetica-Bold", textColor=colors.white)
    story = [Paragraph(table.title, styles["Title"])]
    for label, value in table.parties:
        story.append(Paragraph(f"<b>{_esc(label)}:</b> {_esc(value)}", styles["Normal"]))
    story.append(Spacer(1, 6 * mm))

    def para(text: str, style, numeric: bool) -> Paragraph:
        aligned = style.clone(style.name + "r", alignment=2) if numeric else style
        return Paragraph(_esc(text), aligned)

    data = [[para(c, head, i in table.numeric) for i, c in enumerate(table.columns)]]
    right = [cell.clone("r", alignment=2)]
    for row in table.rows:
        data.append(
            [
                Paragraph(_esc(v), right[0]) if i in table.numeric else Paragraph(_esc(v), cell)
                for i, v in enumerate(row)
            ]
        )
    bold = cell.clone("bold", fontName="Helvetica-Bold")
    bold_right = bold.clone("boldr", alignment=2)
    if table.totals is not None:
        data.append(
            [
                Paragraph(_esc(v), bold_right if i in table.numeric else bold)
                for i, v in enumerate(table.totals)
            ]
        )
    available = pagesize[0] - 28 * mm
    weights = table.widths or [1.0] * len(table.columns)
    widths = [available * w / sum(weights) for w in weights]
    pdf_table = PdfTable(data, colWidths=widths, repeatRows=1)
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1f3b57")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b8c2cc")),
        (
            "ROWBACKGROUNDS",
            (0, 1),
            (-1, -2 if table.totals else -1),
            [colors.white, colors.HexColor("#f2f5f8")],
        ),
    ]
    if table.totals is not None:
        style.append(("LINEABOVE", (0, -1), (-1, -1), 1, colors.black))
        style.append(("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#e4e9ee")))
    pdf_table.setStyle(TableStyle(style))
    story.append(pdf_table)
    if table.notes:
        story.append(Spacer(1, 4 * mm))
        for note in table.notes:
            story.append(Paragraph(_esc(note), styles["Normal"]))

    def footer(canvas, doc_):
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(14 * mm, 8 * mm, f"{table.title} · page {doc_.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(report: ReportFile) -> tuple[bytes, str]:
    """(file content, file name) of a requested report."""
    period = report.period
    if report.kind == ReportKind.STATEMENT:
        table = statement_table(period, report.subject_user)
        name = f"statement-{period.label}-user{report.subject_user_id}"
        extra = ()
    elif report.kind == ReportKind.INVOICE:
        invoice = (
            StationInvoice.objects.select_related("station", "period")
            .prefetch_related("lines")
            .get(pk=report.invoice_id)
        )
        table = invoice_table(invoice)
        name = f"invoice-{invoice.number}"
        extra = invoice_csv_rows(table, invoice)
    elif report.kind == ReportKind.SUMMARY:
        table = summary_table(period)
        name = f"summary-{period.label}"
        extra = ()
    else:
        name = f"cmo-export-{period.label}"
        if report.format == ReportFormat.CSV:
            return _cmo_csv(period), f"{name}.csv"
        table = cmo_export_table(period)
        extra = ()
    if report.format == ReportFormat.CSV:
        return _csv_bytes(table.columns, table.rows, table.totals, extra), f"{name}.csv"
    return pdf_bytes(table), f"{name}.pdf"
