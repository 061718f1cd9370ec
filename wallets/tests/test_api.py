"""API wiring and permissions: who may see and do what, and that refusals change nothing."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.utils import timezone

from conftest import make_user
from users.models import AuditLog
from wallets import services
from wallets.models import JournalEntry, Withdrawal, WithdrawalStatus
from wallets.tests.factories import fund, make_payee

pytestmark = pytest.mark.django_db

D = Decimal


def _state() -> tuple:
    """Everything a refused request must leave untouched."""
    return (
        list(Withdrawal.objects.order_by("id").values_list("id", "status", "amount")),
        JournalEntry.objects.count(),
        AuditLog.objects.filter(action__startswith="withdrawal.").count(),
    )


@pytest.fixture
def payee():
    user = make_payee()
    fund(user, "2500.00")
    return user


@pytest.fixture
def pending(payee):
    return services.withdrawal_request(user=payee, amount=D("1500.00"))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/wallet/"),
        ("get", "/api/v1/wallet/transactions/"),
        ("get", "/api/v1/wallet/statement.csv"),
        ("get", "/api/v1/withdrawals/"),
        ("post", "/api/v1/withdrawals/"),
        ("post", "/api/v1/withdrawals/1/approve/"),
        ("get", "/api/v1/payouts/reconciliation-runs/"),
    ],
)
def test_anonymous_requests_are_401(api_client, method, path):
    response = getattr(api_client, method)(path)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("role", ["station", "admin"])
def test_only_payees_have_a_wallet(client_for, role):
    user = make_user(role, staff_role="finance" if role == "admin" else "")
    for path in ("/api/v1/wallet/", "/api/v1/wallet/transactions/", "/api/v1/wallet/statement.csv"):
        assert client_for(user).get(path).status_code == 403


def test_owner_sees_balance_transactions_and_statement(client_for, payee, pending):
    client = client_for(payee)

    balance = client.get("/api/v1/wallet/")
    assert balance.status_code == 200
    assert balance.json() == {
        "currency": "GHS",
        "available": "1000.00",
        "pending": "1500.00",
        "paid_out": "0.00",
    }

    listing = client.get("/api/v1/wallet/transactions/")
    assert listing.status_code == 200
    rows = listing.json()["results"]
    assert [(r["direction"], r["amount"], r["balance_after"]) for r in rows] == [
        ("debit", "-1500.00", "1000.00"),
        ("credit", "2500.00", "2500.00"),
    ]
    assert rows[0]["reference_type"] == "withdrawal"
    assert rows[0]["reference_id"] == str(pending.pk)
    credits = client.get("/api/v1/wallet/transactions/", {"direction": "credit"}).json()
    assert [r["memo"] for r in credits["results"]] == ["Royalties"]

    today = timezone.localdate().isoformat()
    statement = client.get("/api/v1/wallet/statement.csv", {"start": today, "end": today})
    assert statement.status_code == 200
    assert statement["Content-Type"] == "text/csv; charset=utf-8"
    lines = list(csv.reader(io.StringIO(statement.content.decode())))
    assert lines[0] == ["date", "memo", "reference", "amount", "balance", "currency"]
    assert lines[1] == ["", "Opening balance", "", "", "0.00", "GHS"]
    assert [line[1:5] for line in lines[2:4]] == [
        ["Royalties", "royalty_period:1", "2500.00", "2500.00"],
        [
            f"Withdrawal #{pending.pk} to MTN …4567",
            f"withdrawal:{pending.pk}",
            "-1500.00",
            "1000.00",
        ],
    ]
    assert lines[4] == ["", "Closing balance", "", "", "1000.00", "GHS"]


def test_another_payee_sees_an_empty_wallet_not_mine(client_for, payee, pending):
    other = make_payee(role="publisher", msisdn="0241111111")
    client = client_for(other)
    assert client.get("/api/v1/wallet/").json()["available"] == "0.00"
    assert client.get("/api/v1/wallet/transactions/").json()["results"] == []
    assert client.get("/api/v1/withdrawals/").json()["results"] == []


def test_statement_rejects_a_backwards_range(client_for, payee):
    response = client_for(payee).get(
        "/api/v1/wallet/statement.csv", {"start": "2026-02-01", "end": "2026-01-01"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"end": ["Must not be before start."]}


def test_request_withdrawal_through_the_api(client_for, payee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(payee).post(
            "/api/v1/withdrawals/", {"amount": "100.00"}, HTTP_IDEMPOTENCY_KEY="tap-42"
        )
    assert response.status_code == 201
    body = response.json()
    # Answered at commit time; the send task ran after it (on commit).
    assert (body["amount"], body["status"], body["msisdn_masked"]) == (
        "100.00",
        "approved",
        "…4567",
    )
    assert Withdrawal.objects.get(pk=body["id"]).status == WithdrawalStatus.SUCCEEDED
    assert "msisdn" not in body and "user_email" not in body
    again = client_for(payee).post(
        "/api/v1/withdrawals/", {"amount": "100.00"}, HTTP_IDEMPOTENCY_KEY="tap-42"
    )
    assert again.json()["id"] == body["id"]
    assert Withdrawal.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"amount": "5.00"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({}, "amount"),
        ({"amount": "99999.00"}, "amount"),
    ],
)
def test_bad_withdrawal_input_is_400_and_changes_nothing(client_for, payee, payload, field):
    before = _state()
    response = client_for(payee).post("/api/v1/withdrawals/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert _state() == before


def test_stations_and_staff_cannot_request_withdrawals(client_for):
    for user in (make_user("station"), make_user("admin", staff_role="finance")):
        before = _state()
        response = client_for(user).post("/api/v1/withdrawals/", {"amount": "50.00"})
        assert response.status_code == 403
        assert _state() == before


def test_a_payee_cannot_see_or_cancel_another_payees_withdrawal(client_for, pending):
    other = make_payee(role="publisher", msisdn="0241111111")
    client = client_for(other)
    before = _state()
    assert client.get(f"/api/v1/withdrawals/{pending.pk}/").status_code == 404
    assert client.post(f"/api/v1/withdrawals/{pending.pk}/cancel/").status_code == 404
    assert _state() == before


def test_owner_sees_and_cancels_own_withdrawal(client_for, payee, pending):
    client = client_for(payee)
    assert client.get(f"/api/v1/withdrawals/{pending.pk}/").json()["status"] == "requested"
    response = client.post(f"/api/v1/withdrawals/{pending.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert client.get("/api/v1/wallet/").json()["available"] == "2500.00"


@pytest.mark.parametrize(
    ("role", "staff_role"),
    [("artist", ""), ("publisher", ""), ("station", ""), ("admin", "support")],
)
def test_only_finance_approves_or_rejects(client_for, pending, role, staff_role):
    user = make_user(role, staff_role=staff_role)
    client = client_for(user)
    before = _state()
    for action, payload in (
        ("approve", {}),
        ("reject", {"reason": "no"}),
        ("resolve", {"outcome": "failed", "note": "x"}),
        ("recheck", {}),
    ):
        response = client.post(f"/api/v1/withdrawals/{pending.pk}/{action}/", payload)
        assert response.status_code == 403, action
    assert _state() == before


def test_finance_approves_and_the_withdrawal_is_paid(
    client_for, pending, django_capture_on_commit_callbacks
):
    finance = make_user("admin", staff_role="finance")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(finance).post(f"/api/v1/withdrawals/{pending.pk}/approve/")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["approved_by_email"], body["msisdn"]) == (
        "approved",
        finance.email,
        "233241234567",
    )
    pending.refresh_from_db()
    assert pending.status == WithdrawalStatus.SUCCEEDED
    again = client_for(finance).post(f"/api/v1/withdrawals/{pending.pk}/approve/")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_transition"


def test_finance_rejects_with_a_reason(client_for, pending):
    finance = make_user("admin", staff_role="finance")
    client = client_for(finance)
    before = _state()
    missing = client.post(f"/api/v1/withdrawals/{pending.pk}/reject/", {})
    assert missing.status_code == 400
    assert _state() == before
    response = client.post(f"/api/v1/withdrawals/{pending.pk}/reject/", {"reason": "Name mismatch"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["rejection_reason"]) == (
        "rejected",
        "Name mismatch",
    )


def test_finance_and_support_list_everyones_withdrawals_with_filters(client_for, pending, payee):
    small = services.withdrawal_request(user=payee, amount=D("20.00"))
    for staff_role in ("finance", "support"):
        client = client_for(make_user("admin", staff_role=staff_role))
        everything = client.get("/api/v1/withdrawals/").json()
        assert [w["id"] for w in everything["results"]] == [small.pk, pending.pk]
        assert everything["results"][0]["user_email"] == payee.email
        waiting = client.get("/api/v1/withdrawals/", {"status": "requested"}).json()
        assert [w["id"] for w in waiting["results"]] == [pending.pk]
    assert (
        client_for(payee).get("/api/v1/withdrawals/", {"status": "approved"}).json()["count"] == 1
    )


def test_missing_withdrawal_is_404_for_finance(client_for):
    finance = make_user("admin", staff_role="finance")
    assert client_for(finance).post("/api/v1/withdrawals/999999/approve/").status_code == 404


def test_reconciliation_runs_are_for_finance(client_for, payee):
    services.ledger_reconcile()
    finance = make_user("admin", staff_role="finance")
    runs = client_for(finance).get("/api/v1/payouts/reconciliation-runs/")
    assert runs.status_code == 200
    assert [(r["is_clean"], r["discrepancies"]) for r in runs.json()["results"]] == [(True, [])]
    support = make_user("admin", staff_role="support")
    assert client_for(support).get("/api/v1/payouts/reconciliation-runs/").status_code == 403
    assert client_for(payee).get("/api/v1/payouts/reconciliation-runs/").status_code == 403


def test_every_wallet_endpoint_is_in_the_schema(client_for):
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for path in (
        "/api/v1/wallet/",
        "/api/v1/wallet/transactions/",
        "/api/v1/wallet/statement.csv",
        "/api/v1/withdrawals/",
        "/api/v1/withdrawals/{id}/",
        "/api/v1/withdrawals/{id}/approve/",
        "/api/v1/withdrawals/{id}/reject/",
        "/api/v1/withdrawals/{id}/cancel/",
        "/api/v1/withdrawals/{id}/recheck/",
        "/api/v1/withdrawals/{id}/resolve/",
        "/api/v1/payouts/callbacks/{provider}/",
        "/api/v1/payouts/reconciliation-runs/",
    ):
        assert path in paths, path
