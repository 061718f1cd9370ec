"""The backfill commands and the admin pages, end to end on a small month."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from conftest import make_user
from royalties.models import PeriodStatus, PlayRoyalty, RoyaltyPeriod, StationInvoice
from royalties.tests.factories import accra, play

pytestmark = pytest.mark.django_db


def test_calculate_close_and_report_from_the_command_line(world, tmp_path):
    tmp_path = tmp_path / "reports"
    play(world, accra(2025, 3, 3, 12, 0))
    later = play(world, accra(2025, 4, 3, 12, 0))
    out = io.StringIO()

    call_command("royalties_calculate", "--period", "2025-03", stdout=out)
    assert "calculated 1 plays" in out.getvalue()
    assert not PlayRoyalty.objects.filter(play=later).exists()  # April is after --period

    call_command("royalties_close", "--period", "2025-03", stdout=out)
    march = RoyaltyPeriod.objects.get(month="2025-03-01")
    assert march.status == PeriodStatus.CLOSED and march.gross_total == Decimal("2.00")

    call_command(
        "royalties_report", "--period", "2025-03", "--format", "csv", "--out", str(tmp_path)
    )
    names = sorted(p.name for p in tmp_path.iterdir())
    invoice = StationInvoice.objects.get(period=march)
    assert names == sorted(
        [
            "summary-2025-03.csv",
            "cmo-export-2025-03.csv",
            f"invoice-{invoice.number}.csv",
            f"statement-2025-03-user{world.kofi_user.pk}.csv",
            f"statement-2025-03-user{world.ama_user.pk}.csv",
        ]
    )
    summary = list(csv.reader((tmp_path / "summary-2025-03.csv").open()))
    assert summary[-1][4] == "2.00"

    call_command(
        "royalties_report", "--period", "2025-03", "--format", "pdf", "--out", str(tmp_path)
    )
    assert (tmp_path / "summary-2025-03.pdf").read_bytes().startswith(b"%PDF")


def test_commands_refuse_a_malformed_or_unknown_period(world, tmp_path):
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("royalties_close", "--period", "March")
    with pytest.raises(CommandError, match="No royalty period"):
        call_command(
            "royalties_report", "--period", "2019-01", "--format", "csv", "--out", str(tmp_path)
        )
    with pytest.raises(CommandError, match="not over"):
        call_command("royalties_close", "--period", "2099-01")


def test_the_admin_lists_royalty_rows(client, world):
    play(world, accra(2025, 3, 3, 12, 0))
    call_command("royalties_close", "--period", "2025-03", stdout=io.StringIO())
    client.force_login(make_user("admin", staff_role="superadmin"))

    for model in (
        "ratecard",
        "royaltyperiod",
        "playroyalty",
        "royaltyline",
        "stationinvoice",
        "royaltyposting",
        "reportfile",
    ):
        response = client.get(f"/admin/royalties/{model}/")
        assert response.status_code == 200, model
    invoice = StationInvoice.objects.get()
    assert client.get(f"/admin/royalties/stationinvoice/{invoice.pk}/change/").status_code == 200
