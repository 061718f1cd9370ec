"""Mass assignment: fields a caller must not set (their role, staff flags, statuses, money,
owners, split totals) are ignored or refused on every create/update endpoint that could take
them. Each case sends them next to a field the caller may set and then reads the row back:
the protected values are unchanged, and a refused request changed nothing at all."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.hardening import snapshot
from tests.hardening.world import PDF_BYTES, build_world, wav_bytes


@pytest.fixture
def world(db):
    return build_world()


def _values(instance, fields):
    instance.refresh_from_db()
    return {f: getattr(instance, f) for f in fields}


def _ignored_or_refused(response, before_state, instance, protected: dict):
    """2xx with the protected fields as they were, or a 4xx that changed nothing."""
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert "error" in response.json()
        assert snapshot.changes(before_state, snapshot.state()) == []
    assert _values(instance, protected) == protected


_HOSTILE_USER = {
    "role": "admin",
    "staff_role": "superadmin",
    "is_staff": True,
    "is_superuser": True,
    "is_active": True,
    "email": "taken-over@world.test",
    "email_verified_at": "2020-01-01T00:00:00Z",
}


@pytest.mark.parametrize("role", ["artist", "publisher", "station"])
def test_me_update_ignores_role_and_staff_flags(world, client_for, role):
    user = {"artist": world.a.artist_user, "publisher": world.a.publisher_user}.get(
        role, world.a.station_user
    )
    protected = _values(user, ["role", "staff_role", "is_staff", "is_superuser", "email"])
    client = client_for(user)
    before = snapshot.state()

    response = client.patch(
        "/api/v1/auth/me/", {"full_name": "New Name", **_HOSTILE_USER}, format="json"
    )

    _ignored_or_refused(response, before, user, protected)
    assert response.status_code == 200
    assert user.full_name == "New Name"


def test_register_cannot_make_staff(world, api_client):
    from users.models import User

    before = User.objects.count()
    response = api_client.post(
        "/api/v1/auth/register/",
        {
            "email": "new-admin@world.test",
            "password": "Str0ng-pass-123",
            "full_name": "Mallory",
            **{k: v for k, v in _HOSTILE_USER.items() if k != "email"},
        },
        format="json",
    )

    created = User.objects.filter(email="new-admin@world.test").first()
    if response.status_code == 201:
        assert (created.role, created.staff_role, created.is_staff) != ("admin", "superadmin", True)
        assert created.role != "admin" and not created.is_staff and not created.is_superuser
    else:
        assert response.status_code == 400
        assert User.objects.count() == before


def test_track_update_ignores_status_fingerprint_and_owner(world, client_for):
    track = world.a.draft_track
    protected = _values(
        track, ["status", "fingerprint_status", "primary_artist_id", "created_by_id"]
    )
    client = client_for(world.a.artist_user)
    before = snapshot.state()

    response = client.patch(
        f"/api/v1/tracks/{track.pk}/",
        {
            "title": "Renamed",
            "status": "approved",
            "fingerprint_status": "ready",
            "primary_artist": world.b.artist.pk,
            "primary_artist_id": world.b.artist.pk,
            "created_by": world.b.artist_user.pk,
        },
        format="json",
    )

    _ignored_or_refused(response, before, track, protected)
    assert track.title == "Renamed"


def test_track_upload_starts_as_a_draft_of_the_callers_artist(world, client_for, settings):
    from tracks.models import Track

    response = client_for(world.a.artist_user).post(
        "/api/v1/tracks/",
        {
            "title": "Fresh",
            "audio": SimpleUploadedFile("fresh.wav", wav_bytes(6.0, seed=99), "audio/wav"),
            "status": "approved",
            "fingerprint_status": "ready",
            "created_by": world.b.artist_user.pk,
        },
        format="multipart",
    )

    assert response.status_code == 201, response.content
    track = Track.objects.get(pk=response.json()["id"])
    assert track.status == "draft"
    assert track.primary_artist_id == world.a.artist.pk
    assert track.created_by_id == world.a.artist_user.pk


def test_splits_must_total_ten_thousand(world, client_for):
    from tracks.models import SplitVersion

    track = world.a.track
    versions = SplitVersion.objects.filter(track=track).count()
    client = client_for(world.support)
    before = snapshot.state()

    response = client.put(
        f"/api/v1/tracks/{track.pk}/splits/",
        {
            "shares": [
                {"role": "composer", "basis_points": 9000, "artist_id": world.a.artist.pk},
                {"role": "performer", "basis_points": 9000, "name": "Greedy"},
            ],
            "total": 10000,
        },
        format="json",
    )

    assert response.status_code == 400
    assert SplitVersion.objects.filter(track=track).count() == versions
    assert snapshot.changes(before, snapshot.state()) == []


def test_station_account_cannot_verify_or_switch_on_its_station(world, client_for):
    station = world.a.station
    protected = _values(
        station, ["is_verified", "verified_at", "verified_by_id", "monitoring_enabled", "slug"]
    )
    client = client_for(world.a.station_user)
    before = snapshot.state()

    response = client.patch(
        f"/api/v1/stations/{station.pk}/",
        {
            "contact_name": "New Desk",
            "is_verified": True,
            "verified_by": world.superadmin.pk,
            "monitoring_enabled": not station.monitoring_enabled,
            "slug": "stolen-slug",
        },
        format="json",
    )

    _ignored_or_refused(response, before, station, protected)


def test_stream_link_is_created_on_the_url_station_not_the_bodys(world, client_for):
    from stations.models import StreamLink

    b_links = StreamLink.objects.filter(station=world.b.station).count()
    response = client_for(world.a.station_user).post(
        f"/api/v1/stations/{world.a.station.pk}/stream-links/",
        {"url": "http://203.0.114.77:8000/live", "kind": "backup", "station": world.b.station.pk},
        format="json",
    )

    assert response.status_code == 201, response.content
    link = StreamLink.objects.get(pk=response.json()["id"])
    assert link.station_id == world.a.station.pk
    assert StreamLink.objects.filter(station=world.b.station).count() == b_links


def test_withdrawal_status_user_and_amount_are_the_servers(world, client_for, settings):
    from wallets.models import Withdrawal
    from wallets.selectors import wallet_balance

    # Above the approval threshold: the server keeps it "requested" until finance acts.
    settings.WALLETS_APPROVAL_THRESHOLD = Decimal("10.00")
    user = world.a.publisher_user
    client = client_for(user)
    available = wallet_balance(user=user).available
    response = client.post(
        "/api/v1/withdrawals/",
        {
            "amount": "12.00",
            "status": "succeeded",
            "user": world.b.publisher_user.pk,
            "requires_approval": False,
            "provider": "momo_mtn",
            "request_key": "mass-assign",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    withdrawal = Withdrawal.objects.get(pk=response.json()["id"])
    assert withdrawal.user_id == user.pk
    assert withdrawal.amount == Decimal("12.00")
    assert withdrawal.status == "requested"
    assert withdrawal.requires_approval is True
    assert withdrawal.provider != "momo_mtn" or settings.WALLETS_PAYOUT_PROVIDER == "momo_mtn"
    assert wallet_balance(user=user).available == available - Decimal("12.00")
    # Nothing changes a withdrawal's amount or status after the request: no such endpoint.
    before = snapshot.state()
    for method in ("patch", "put"):
        again = getattr(client, method)(
            f"/api/v1/withdrawals/{withdrawal.pk}/",
            {"amount": "1.00", "status": "succeeded"},
            format="json",
        )
        assert again.status_code == 405
    assert snapshot.changes(before, snapshot.state()) == []


def test_wallet_balance_cannot_be_written(world, client_for):
    client = client_for(world.a.publisher_user)
    before = snapshot.state()
    for method in ("post", "put", "patch"):
        response = getattr(client, method)(
            "/api/v1/wallet/", {"balance": "1000000.00", "available": "1000000.00"}, format="json"
        )
        assert response.status_code == 405
    assert snapshot.changes(before, snapshot.state()) == []


def test_kyc_submission_starts_submitted(world, client_for):
    from artists.models import KycSubmission

    user = world.b.publisher_user  # approved before; a new submission is reviewed again
    response = client_for(world.a.artist_user).post(
        "/api/v1/kyc/",
        {
            "id_type": "passport",
            "id_number": "G9999999",
            "status": "approved",
            "decided_by": world.support.pk,
            "user": user.pk,
            "documents": [SimpleUploadedFile("id.pdf", PDF_BYTES, "application/pdf")],
            "kinds": ["id_front"],
            "id_front": SimpleUploadedFile("id.pdf", PDF_BYTES, "application/pdf"),
        },
        format="multipart",
    )

    assert response.status_code in (201, 400, 409), response.content
    assert not KycSubmission.objects.filter(user=user, id_number="G9999999").exists()
    for submission in KycSubmission.objects.filter(id_number="G9999999"):
        assert submission.user_id == world.a.artist_user.pk
        assert submission.status == "submitted"
        assert submission.decided_by_id is None


def test_dispute_opens_submitted_whatever_the_body_says(world, client_for):
    from detections.models import Dispute

    play = world.a.play
    response = client_for(world.a.station_user).post(
        "/api/v1/disputes/",
        {
            "play": play.pk,
            "dispute_type": "wrong_duration",
            "description": "Longer than that",
            "status": "resolved",
            "outcome": "upheld",
            "play_verdict": "rejected",
            "assigned_to": world.support.pk,
        },
        format="json",
    )

    assert response.status_code in (201, 400, 409), response.content
    for dispute in Dispute.objects.filter(play=play):
        assert dispute.status == "submitted"
        assert dispute.outcome == ""
        assert dispute.assigned_to_id is None


def test_relationship_proposal_starts_pending(world, client_for):
    from artists.models import PublisherArtistRelationship

    response = client_for(world.a.publisher_user).post(
        "/api/v1/relationships/",
        {
            "artist": world.b.artist.pk,
            "kind": "administration",
            "share_bp": 3000,
            "start_date": "2025-01-01",
            "status": "active",
            "publisher": world.b.publisher.pk,
        },
        format="json",
    )

    assert response.status_code in (201, 400, 409), response.content
    proposed = PublisherArtistRelationship.objects.filter(artist=world.b.artist).exclude(
        pk=world.b.relationship.pk
    )
    for relationship in proposed:
        assert relationship.status == "pending"
        assert relationship.publisher_id == world.a.publisher.pk


def test_play_review_fields_are_not_writable_by_stations(world, client_for):
    play = world.a.play
    protected = _values(
        play, ["verification_status", "royalty_status", "payment_status", "royalty_bearing"]
    )
    client = client_for(world.a.station_user)
    before = snapshot.state()
    for method in ("patch", "put"):
        response = getattr(client, method)(
            f"/api/v1/plays/{play.pk}/",
            {"verification_status": "rejected", "royalty_status": "pending"},
            format="json",
        )
        assert response.status_code == 405
    response = client.post(
        f"/api/v1/plays/{play.pk}/review/",
        {"verification_status": "rejected", "note": "Mine to decide?"},
        format="json",
    )
    _ignored_or_refused(response, before, play, protected)
    assert response.status_code == 403
