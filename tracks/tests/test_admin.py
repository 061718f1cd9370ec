"""Django admin: lists and filters, and review actions that call the API's services."""

from __future__ import annotations

import pytest
from django.test import Client

from artists.models import KycSubmission
from artists.tests.factories import ArtistFactory, PublisherFactory
from conftest import make_user
from tracks import services
from tracks.models import Track
from tracks.services import ShareInput
from tracks.tests.factories import TrackFactory
from users.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(make_user("admin", staff_role="superadmin"))
    return client


def _submitted_track(title: str) -> Track:
    artist = ArtistFactory(user=make_user("artist"))
    track = TrackFactory(primary_artist=artist, title=title)
    services.splits_set(
        actor=artist.user,
        track=track,
        shares=[ShareInput(role="performer", basis_points=10000, artist_id=artist.pk)],
    )
    return services.track_submit(actor=artist.user, track=track)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/artists/artist/?country=GH&self_published__exact=1&q=a",
        "/admin/artists/publisher/?q=p",
        "/admin/artists/publisherartistrelationship/?status=active",
        "/admin/artists/kycsubmission/?status=submitted",
        "/admin/artists/payoutdetails/",
        "/admin/tracks/track/?status=submitted&fingerprint_status=pending&q=song",
        "/admin/tracks/splitversion/",
        "/admin/tracks/contributor/",
        "/admin/tracks/trackimport/",
    ],
)
def test_admin_lists_and_filters(admin_client, url):
    ArtistFactory(stage_name="Ama")
    PublisherFactory(name="Pub")
    _submitted_track("Song")
    assert admin_client.get(url).status_code == 200


def test_admin_track_actions_call_the_review_services(admin_client):
    approve_me = _submitted_track("Approve me")
    reject_me = _submitted_track("Reject me")
    draft = TrackFactory(title="Still a draft")
    response = admin_client.post(
        "/admin/tracks/track/",
        {"action": "approve", "_selected_action": [approve_me.pk, draft.pk], "reason": ""},
        follow=True,
    )
    assert response.status_code == 200
    assert Track.objects.get(pk=approve_me.pk).status == "approved"
    assert Track.objects.get(pk=draft.pk).status == "draft"  # refused by the service
    no_reason = admin_client.post(
        "/admin/tracks/track/", {"action": "reject", "_selected_action": [reject_me.pk]}
    )
    assert no_reason.status_code == 302
    assert Track.objects.get(pk=reject_me.pk).status == "submitted"
    admin_client.post(
        "/admin/tracks/track/",
        {"action": "reject", "_selected_action": [reject_me.pk], "reason": "Wrong cover"},
    )
    rejected = Track.objects.get(pk=reject_me.pk)
    assert (rejected.status, rejected.rejection_reason) == ("rejected", "Wrong cover")
    assert AuditLog.objects.filter(action="track.approve").count() == 1
    assert AuditLog.objects.filter(action="track.reject").count() == 1


def test_admin_kyc_actions_call_the_kyc_services(admin_client):
    user = make_user("artist")
    submission = KycSubmission.objects.create(user=user, id_type="passport", id_number="G1234567")
    admin_client.post(
        "/admin/artists/kycsubmission/",
        {"action": "reject", "_selected_action": [submission.pk], "reason": "Blurry"},
    )
    submission.refresh_from_db()
    assert (submission.status, submission.rejection_reason) == ("rejected", "Blurry")
    assert AuditLog.objects.filter(action="kyc.reject", target_id=str(submission.pk)).count() == 1


def test_admin_refuses_an_invalid_isrc(admin_client):
    track = TrackFactory(title="Edit me")
    response = admin_client.get(f"/admin/tracks/track/{track.pk}/change/")
    assert response.status_code == 200
    form = response.context["adminform"].form
    data = {
        k: v
        for k, v in form.initial.items()
        if v is not None and k not in ("featured_artists", "cover")
    }
    data.update(isrc="bad", title="Edit me", primary_artist=track.primary_artist_id)
    refused = admin_client.post(f"/admin/tracks/track/{track.pk}/change/", data)
    assert refused.status_code == 200
    assert "isrc" in refused.context["adminform"].form.errors
    track.refresh_from_db()
    assert track.isrc == ""
