"""API wiring and permissions: who may see, request and download what."""

from __future__ import annotations

from datetime import date

import pytest

from conftest import make_user
from royalties import services
from royalties.models import (
    PeriodStatus,
    RateCard,
    ReportFile,
    RoyaltyPeriod,
    StationInvoice,
)
from royalties.tests.factories import StationFactory, accra, play, station_account

pytestmark = pytest.mark.django_db
BASE = "/api/v1/royalties"


@pytest.fixture
def closed(world):
    """March closed with plays on two stations, each with a station account."""
    other = StationFactory(station_class="B", name="Other FM")
    play(world, accra(2025, 3, 3, 12, 0))
    play(world, accra(2025, 3, 4, 12, 0), station=other)
    services.plays_calculate()
    world.period = services.period_close(
        period_id=services.period_get_or_create(month=date(2025, 3, 1)).pk
    )
    world.station_user = make_user("station")
    station_account(world.station, world.station_user)
    world.other_station_user = make_user("station")
    station_account(other, world.other_station_user)
    world.invoice = StationInvoice.objects.get(period=world.period, station=world.station)
    world.finance = make_user("admin", staff_role="finance")
    world.support = make_user("admin", staff_role="support")
    return world


def _statement(client, period_id, **extra):
    return client.post(
        f"{BASE}/reports/",
        {"kind": "statement", "format": "csv", "period": period_id, **extra},
        format="json",
    )


def test_anonymous_requests_are_refused(api_client, closed):
    for url in [
        "/rate-cards/",
        "/periods/",
        "/lines/",
        "/invoices/",
        "/reports/",
        f"/invoices/{closed.invoice.pk}/",
    ]:
        assert api_client.get(BASE + url).status_code == 401, url


def test_an_artist_gets_its_own_statement_and_nobody_else_does(client_for, closed):
    owner = client_for(closed.kofi_user)

    requested = _statement(owner, closed.period.pk)

    assert requested.status_code == 202
    report_id = requested.json()["id"]
    # The worker ran on commit (eager in tests): the file is ready.
    detail = owner.get(f"{BASE}/reports/{report_id}/")
    assert detail.json()["status"] == "ready"
    download = owner.get(f"{BASE}/reports/{report_id}/download/")
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv"
    body = b"".join(download.streaming_content).decode()
    assert body.splitlines()[-1].startswith("TOTAL,")

    for intruder in (closed.ama_user, closed.publisher.user, closed.station_user, closed.support):
        client = client_for(intruder)
        if intruder is closed.support:
            continue  # staff may read every report (checked below)
        assert client.get(f"{BASE}/reports/{report_id}/").status_code == 404
        assert client.get(f"{BASE}/reports/{report_id}/download/").status_code == 404
        assert report_id not in [r["id"] for r in client.get(f"{BASE}/reports/").json()["results"]]
    staff = client_for(closed.support)
    assert staff.get(f"{BASE}/reports/{report_id}/download/").status_code == 200


def test_an_artist_cannot_ask_for_another_payees_statement(client_for, closed):
    before = ReportFile.objects.count()

    response = _statement(
        client_for(closed.ama_user), closed.period.pk, subject_user=closed.kofi_user.pk
    )

    assert response.status_code == 404
    assert ReportFile.objects.count() == before


def test_staff_summaries_and_cmo_exports_are_refused_to_payees_and_stations(client_for, closed):
    before = ReportFile.objects.count()
    for user in (closed.kofi_user, closed.station_user):
        for kind in ("summary", "cmo_export"):
            response = client_for(user).post(
                f"{BASE}/reports/",
                {"kind": kind, "format": "pdf", "period": closed.period.pk},
                format="json",
            )
            assert response.status_code == 403, (user.role, kind)
    assert ReportFile.objects.count() == before

    ok = client_for(closed.finance).post(
        f"{BASE}/reports/",
        {"kind": "cmo_export", "format": "csv", "period": closed.period.pk},
        format="json",
    )
    assert ok.status_code == 202


def test_a_station_sees_and_downloads_only_its_own_invoice(client_for, closed):
    own, other = client_for(closed.station_user), client_for(closed.other_station_user)

    listed = own.get(f"{BASE}/invoices/").json()["results"]
    assert [i["number"] for i in listed] == [closed.invoice.number]
    assert own.get(f"{BASE}/invoices/{closed.invoice.pk}/").json()["lines"][0]["plays_count"] == 1
    assert other.get(f"{BASE}/invoices/{closed.invoice.pk}/").status_code == 404

    before = ReportFile.objects.count()
    refused = other.post(
        f"{BASE}/reports/",
        {
            "kind": "invoice",
            "format": "pdf",
            "period": closed.period.pk,
            "invoice": closed.invoice.pk,
        },
        format="json",
    )
    assert refused.status_code == 404
    assert ReportFile.objects.count() == before

    made = own.post(
        f"{BASE}/reports/",
        {
            "kind": "invoice",
            "format": "pdf",
            "period": closed.period.pk,
            "invoice": closed.invoice.pk,
        },
        format="json",
    )
    assert made.status_code == 202
    report_id = made.json()["id"]
    pdf = own.get(f"{BASE}/reports/{report_id}/download/")
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
    assert other.get(f"{BASE}/reports/{report_id}/download/").status_code == 404
    assert client_for(closed.kofi_user).get(f"{BASE}/invoices/").status_code == 403


def test_payees_list_only_their_own_lines(client_for, closed):
    lines = client_for(closed.kofi_user).get(f"{BASE}/lines/?period={closed.period.pk}").json()

    assert lines["count"] == 2
    assert {line["payee_type"] for line in lines["results"]} == {"contributor"}
    assert {line["amount"] for line in lines["results"]} == {"0.90", "0.72"}
    assert client_for(closed.station_user).get(f"{BASE}/lines/").status_code == 403


def test_period_totals_are_for_staff_only(client_for, closed):
    payee = client_for(closed.kofi_user).get(f"{BASE}/periods/{closed.period.pk}/").json()
    staff = client_for(closed.support).get(f"{BASE}/periods/{closed.period.pk}/").json()

    assert "gross_total" not in payee and payee["status"] == "closed"
    assert staff["gross_total"] == "3.60"


def test_finance_creates_rate_cards_and_bad_ones_change_nothing(client_for, world):
    payload = {
        "name": "2026 card",
        "effective_from": "2026-01-01",
        "cmo_fee_percent": "12.50",
        "min_play_seconds": "30",
        "rates": {
            "A": "0.012",
            "B": "0.009",
            "C": "0.006",
            "community": "0.002",
            "online": "0.004",
        },
        "bands": [
            {"name": "prime", "start": "06:00", "end": "10:00", "multiplier": "1.5"},
            {"name": "late", "start": "22:00", "end": "00:00", "multiplier": "0.8"},
        ],
    }
    finance = client_for(make_user("admin", staff_role="finance"))
    before = RateCard.objects.count()

    bad = finance.post(
        f"{BASE}/rate-cards/",
        {
            **payload,
            "bands": [
                *payload["bands"],
                {"name": "x", "start": "09:00", "end": "11:00", "multiplier": "2"},
            ],
        },
        format="json",
    )
    missing = finance.post(
        f"{BASE}/rate-cards/", {**payload, "rates": {"A": "0.01"}}, format="json"
    )
    support = client_for(make_user("admin", staff_role="support")).post(
        f"{BASE}/rate-cards/", payload, format="json"
    )
    artist = client_for(world.kofi_user).get(f"{BASE}/rate-cards/")

    assert bad.status_code == 400 and "bands" in bad.json()["error"]["details"]
    assert missing.status_code == 400 and "rates" in missing.json()["error"]["details"]
    assert (support.status_code, artist.status_code) == (403, 403)
    assert RateCard.objects.count() == before

    created = finance.post(f"{BASE}/rate-cards/", payload, format="json")

    assert created.status_code == 201
    body = created.json()
    assert body["rates"]["A"] == "0.012000"
    assert [(b["name"], b["start_minute"], b["end_minute"]) for b in body["bands"]] == [
        ("prime", 360, 600),
        ("late", 1320, 1440),
    ]
    assert body["effective_from"].startswith("2026-01-01T00:00:00")


def test_finance_closes_a_period_through_the_api(client_for, world):
    play(world, accra(2025, 3, 3, 12, 0))
    period = services.period_get_or_create(month=date(2025, 3, 1))
    finance = client_for(make_user("admin", staff_role="finance"))

    refused = client_for(world.kofi_user).post(f"{BASE}/periods/{period.pk}/close/")
    assert refused.status_code == 403
    period.refresh_from_db()
    assert period.status == PeriodStatus.OPEN

    accepted = finance.post(f"{BASE}/periods/{period.pk}/close/")

    assert accepted.status_code == 202
    period.refresh_from_db()
    assert period.status == PeriodStatus.CLOSED and period.gross_total == 2
    again = finance.post(f"{BASE}/periods/{period.pk}/close/")
    assert again.status_code == 409


def test_finance_marks_an_invoice_paid(client_for, closed):
    url = f"{BASE}/invoices/{closed.invoice.pk}/mark-paid/"

    assert client_for(closed.station_user).post(url, {"reference": "x"}).status_code == 403
    assert client_for(closed.finance).post(url, {}, format="json").status_code == 400
    closed.invoice.refresh_from_db()
    assert closed.invoice.status == "issued"

    paid = client_for(closed.finance).post(url, {"reference": "GCB-991"}, format="json")

    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    assert RoyaltyPeriod.objects.get(pk=closed.period.pk).status == PeriodStatus.CLOSED


def test_the_schema_documents_every_royalties_endpoint(client_for, world):
    schema = client_for(make_user("admin", staff_role="superadmin")).get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in (
        "/api/v1/royalties/reports/{id}/download/",
        "/api/v1/royalties/periods/{id}/close/",
        "/api/v1/royalties/rate-cards/",
        "/api/v1/royalties/invoices/{id}/mark-paid/",
        "/api/v1/royalties/lines/",
    ):
        assert path in text
