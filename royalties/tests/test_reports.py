"""Reports: CSV totals against the database, PDFs parsed back, byte-identical regeneration."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum
from pypdf import PdfReader

from royalties import reports, services
from royalties.models import (
    PlayRoyalty,
    ReportFile,
    ReportKind,
    ReportStatus,
    RoyaltyLine,
    StationInvoice,
)
from royalties.tests.factories import StationFactory, accra, play, publishing_deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed_march(world):
    """March 2025: five plays on two stations (one in prime time), a publishing deal for
    Kofi, and a second track, all calculated and closed."""
    from tracks.tests.factories import TrackFactory

    publishing_deal(world.kofi, world.publisher, share_bp=2_000, active_from=accra(2025, 3, 1))
    other = StationFactory(station_class="community", name="Volta Community Radio")
    second = TrackFactory(primary_artist=world.ama, title="Abele", isrc="GHA012500002")
    play(world, accra(2025, 3, 3, 12, 0))
    play(world, accra(2025, 3, 4, 7, 30), seconds="187.45")
    play(world, accra(2025, 3, 5, 12, 0), station=other)
    play(world, accra(2025, 3, 6, 12, 0), track=second)
    play(world, accra(2025, 3, 7, 23, 59), seconds="233.33")
    services.plays_calculate()
    period = services.period_close(
        period_id=services.period_get_or_create(month=date(2025, 3, 1)).pk
    )
    world.period = period
    world.other_station = other
    return world


def _render(kind, fmt, period, **fields) -> bytes:
    content, _name = reports.render(ReportFile(kind=kind, format=fmt, period=period, **fields))
    return content


def _csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8"))))


def _pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_a_statement_csv_adds_up_to_the_payees_lines_in_the_database(closed_march):
    w = closed_march
    rows = _csv(_render(ReportKind.STATEMENT, "csv", w.period, subject_user=w.kofi_user))

    assert rows[0] == ["track", "isrc", "station", "type", "plays", "airtime_seconds", "amount"]
    body, total = rows[1:-1], rows[-1]
    expected = RoyaltyLine.objects.filter(period=w.period, user=w.kofi_user).aggregate(
        s=Sum("amount")
    )["s"]
    assert total[0] == "TOTAL" and Decimal(total[6]) == expected
    assert sum(Decimal(r[6]) for r in body) == expected
    assert {(r[0], r[2], r[4]) for r in body} == {
        ("Highlife Morning", "Joy Test FM", "3"),
        ("Highlife Morning", "Volta Community Radio", "1"),
    }
    assert total[4] == "4" and total[5] == "820.78"  # 200 + 187.45 + 200 + 233.33


def test_a_publisher_statement_shows_its_routed_share(closed_march):
    w = closed_march
    rows = _csv(_render(ReportKind.STATEMENT, "csv", w.period, subject_user=w.publisher.user))

    expected = RoyaltyLine.objects.filter(period=w.period, user=w.publisher.user).aggregate(
        s=Sum("amount")
    )["s"]
    assert expected > 0
    assert Decimal(rows[-1][6]) == expected


def test_the_statement_pdf_renders_with_the_right_total(closed_march):
    w = closed_march
    content = _render(ReportKind.STATEMENT, "pdf", w.period, subject_user=w.kofi_user)

    text = _pdf_text(content)
    total = RoyaltyLine.objects.filter(period=w.period, user=w.kofi_user).aggregate(
        s=Sum("amount")
    )["s"]
    assert content.startswith(b"%PDF")
    assert "Royalty statement 2025-03" in text
    assert "Kofi" in text and w.kofi_user.email in text
    assert "TOTAL" in text and str(total) in text


def test_the_invoice_csv_and_pdf_carry_the_invoice_totals(closed_march):
    w = closed_march
    invoice = StationInvoice.objects.get(period=w.period, station=w.station)

    rows = _csv(_render(ReportKind.INVOICE, "csv", w.period, invoice=invoice))
    text = _pdf_text(_render(ReportKind.INVOICE, "pdf", w.period, invoice=invoice))

    gross = PlayRoyalty.objects.filter(period=w.period, station=w.station).aggregate(
        s=Sum("gross")
    )["s"]
    assert invoice.subtotal == gross
    assert rows[-3][0] == "SUBTOTAL" and Decimal(rows[-3][4]) == gross
    assert rows[-2] == ["VAT", "", "", "15.00%", str(invoice.vat_amount)]
    assert rows[-1] == ["TOTAL", "", "", "", str(invoice.total)]
    assert sum(Decimal(r[4]) for r in rows[1:-3]) == gross
    assert invoice.number in text and "Joy Test FM" in text
    assert f"Total due: GHS {invoice.total}" in text


def test_the_summary_csv_equals_the_period_totals(closed_march):
    w = closed_march
    rows = _csv(_render(ReportKind.SUMMARY, "csv", w.period))
    total = rows[-1]

    assert total[0] == "TOTAL"
    assert int(total[2]) == w.period.plays_count == 5
    assert Decimal(total[4]) == w.period.gross_total
    assert Decimal(total[5]) == w.period.cmo_fee_total
    assert Decimal(total[6]) == w.period.payees_total
    invoiced = StationInvoice.objects.filter(period=w.period).aggregate(s=Sum("total"))["s"]
    assert Decimal(total[9]) == invoiced
    assert [r[0] for r in rows[1:-1]] == ["Joy Test FM", "Volta Community Radio"]


def test_the_cmo_export_lists_every_airing_with_its_identifiers(closed_march):
    w = closed_march
    rows = _csv(_render(ReportKind.CMO_EXPORT, "csv", w.period))

    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header == reports.CMO_COLUMNS
    assert len(body) == 5
    first = dict(zip(header, body[0], strict=True))
    assert first == {
        "station": "Joy Test FM",
        "call_sign": w.station.call_sign,
        "station_class": "A",
        "date": "2025-03-03",
        "time": "12:00:00",
        "duration_seconds": "200.00",
        "title": "Highlife Morning",
        "performers": "Kofi",
        "isrc": "GHA012500001",
        "iswc": "T1234567894",
        "composers_publishers": "Ama (composer)",
        "number_of_plays": "1",
        "gross_amount": "2.00",
    }
    gross = PlayRoyalty.objects.filter(period=w.period).aggregate(s=Sum("gross"))["s"]
    assert total[11] == "5" and Decimal(total[12]) == gross
    text = _pdf_text(_render(ReportKind.CMO_EXPORT, "pdf", w.period))
    assert "CMO airplay export 2025-03" in text and str(gross) in text


def test_regenerating_a_closed_period_gives_byte_identical_csv(closed_march):
    w = closed_march
    kinds = [
        (ReportKind.STATEMENT, {"subject_user": w.kofi_user}),
        (ReportKind.SUMMARY, {}),
        (ReportKind.CMO_EXPORT, {}),
        (ReportKind.INVOICE, {"invoice": StationInvoice.objects.get(station=w.station)}),
    ]
    first = [_render(kind, "csv", w.period, **fields) for kind, fields in kinds]
    # Life goes on in April: more plays, an adjustment, a new rate card.
    play(w, accra(2025, 4, 2, 12, 0))
    services.plays_calculate()

    again = [_render(kind, "csv", w.period, **fields) for kind, fields in kinds]

    assert again == first


def test_a_requested_report_is_generated_once_for_a_closed_period(closed_march):
    w = closed_march

    report = services.report_request(
        actor=w.kofi_user, kind="statement", format="csv", period_id=w.period.pk
    )
    services.report_generate(report_id=report.pk)
    report.refresh_from_db()
    again = services.report_request(
        actor=w.kofi_user, kind="statement", format="csv", period_id=w.period.pk
    )

    assert report.status == ReportStatus.READY
    assert report.file.read() == _render(
        ReportKind.STATEMENT, "csv", w.period, subject_user=w.kofi_user
    )
    assert again.pk == report.pk
    assert ReportFile.objects.count() == 1
