"""Profile, relationship, KYC and payout endpoints: wiring and who may do what."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from artists import services
from artists.models import Artist, KycDocument, KycSubmission, PayoutDetails, Publisher
from artists.tests.conftest import last_sms_code
from artists.tests.factories import ArtistFactory, PublisherFactory
from conftest import make_user
from users.models import AuditLog

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4 fake identity document"
JPEG = b"\xff\xd8\xff\xe0 fake photo"


def _kyc_upload(client):
    return client.post(
        "/api/v1/kyc/",
        {
            "id_type": "ghana_card",
            "id_number": "GHA-123456789-0",
            "tax_id": "P0012345678",
            "id_front": SimpleUploadedFile("my card.pdf", PDF),
            "selfie": SimpleUploadedFile("me.jpg", JPEG),
        },
        format="multipart",
    )


def test_artist_onboarding_creates_and_edits_its_profile(client_for):
    user = make_user("artist")
    client = client_for(user)
    assert client.get("/api/v1/artists/me/").status_code == 404
    created = client.post(
        "/api/v1/artists/me/",
        {"stage_name": "Efua", "socials": {"instagram": "https://instagram.com/efua"}},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["pro_affiliation"], body["country"], body["self_published"]) == (
        "GHAMRO",
        "GH",
        True,
    )
    again = client.post("/api/v1/artists/me/", {"stage_name": "Twice"}, format="json")
    assert again.status_code == 409
    bad = client.patch("/api/v1/artists/me/", {"ipi_number": "12"}, format="json")
    assert bad.status_code == 400
    assert list(bad.json()["error"]["details"]) == ["ipi_number"]
    edited = client.patch("/api/v1/artists/me/", {"bio": "Singer"}, format="json")
    assert (edited.status_code, edited.json()["bio"]) == (200, "Singer")


def test_profile_endpoints_refuse_other_roles_and_anonymous(client_for, api_client):
    assert api_client.get("/api/v1/artists/me/").status_code == 401
    assert api_client.get("/api/v1/publishers/me/").status_code == 401
    publisher_client = client_for(make_user("publisher"))
    assert publisher_client.post("/api/v1/artists/me/", {"stage_name": "X"}).status_code == 403
    artist_client = client_for(make_user("artist"))
    assert artist_client.post("/api/v1/publishers/me/", {"name": "X"}).status_code == 403
    assert client_for(make_user("station")).get("/api/v1/artists/").status_code == 403
    assert Artist.objects.count() == 0
    assert Publisher.objects.count() == 0


def test_another_artist_profile_is_invisible_and_unchangeable(client_for):
    victim = ArtistFactory(user=make_user("artist"), stage_name="Victim", bio="Original")
    stranger = client_for(ArtistFactory(user=make_user("artist")).user)
    assert stranger.get(f"/api/v1/artists/{victim.pk}/").status_code == 404
    assert (
        stranger.patch(
            f"/api/v1/artists/{victim.pk}/", {"bio": "Hacked"}, format="json"
        ).status_code
        == 404
    )
    assert [a["id"] for a in stranger.get("/api/v1/artists/").json()["results"]] != [victim.pk]
    victim.refresh_from_db()
    assert victim.bio == "Original"


def test_a_publisher_reads_but_does_not_edit_its_artists(client_for):
    artist = ArtistFactory(user=make_user("artist"), bio="Mine")
    publisher = PublisherFactory(user=make_user("publisher"))
    client = client_for(publisher.user)
    assert client.get(f"/api/v1/artists/{artist.pk}/").status_code == 404
    proposed = client.post(
        "/api/v1/relationships/",
        {"artist_id": artist.pk, "kind": "exclusive", "share_bp": 2500, "start_date": "2026-01-01"},
        format="json",
    )
    assert proposed.status_code == 201
    deal_id = proposed.json()["id"]
    # The proposer cannot accept its own proposal; the artist can.
    assert client.post(f"/api/v1/relationships/{deal_id}/accept/").status_code == 403
    artist_client = client_for(artist.user)
    accepted = artist_client.post(f"/api/v1/relationships/{deal_id}/accept/")
    assert (accepted.status_code, accepted.json()["status"]) == (200, "active")
    assert client.get(f"/api/v1/artists/{artist.pk}/").status_code == 200
    assert (
        client.patch(f"/api/v1/artists/{artist.pk}/", {"bio": "Changed"}, format="json").status_code
        == 403
    )
    artist.refresh_from_db()
    assert (artist.bio, artist.self_published) == ("Mine", False)
    # Someone outside the deal does not see it.
    outsider = client_for(make_user("publisher"))
    assert outsider.get(f"/api/v1/relationships/{deal_id}/").status_code == 404
    assert outsider.post(f"/api/v1/relationships/{deal_id}/accept/").status_code == 404


def test_another_publisher_profile_is_invisible_and_unchangeable(client_for):
    victim = PublisherFactory(user=make_user("publisher"), name="Victim Music")
    stranger = client_for(PublisherFactory(user=make_user("publisher")).user)
    assert stranger.get(f"/api/v1/publishers/{victim.pk}/").status_code == 404
    assert (
        stranger.patch(
            f"/api/v1/publishers/{victim.pk}/", {"name": "Mine now"}, format="json"
        ).status_code
        == 404
    )
    directory = stranger.get("/api/v1/publishers/directory/?q=victim").json()["results"]
    assert directory == [
        {"id": victim.pk, "name": "Victim Music", "country": "GH", "pro_affiliation": ""}
    ]
    victim.refresh_from_db()
    assert victim.name == "Victim Music"


def test_kyc_submission_stores_files_privately(client_for):
    user = make_user("artist")
    response = _kyc_upload(client_for(user))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "submitted"
    documents = KycDocument.objects.filter(submission_id=body["id"]).order_by("id")
    assert [d.kind for d in documents] == ["id_front", "selfie"]
    for document in documents:
        assert document.file.name.startswith(f"kyc/{user.pk}/")
        assert "card" not in document.file.name and "me.jpg" not in document.file.name
        with pytest.raises(ValueError):
            document.file.url  # noqa: B018 — private files have no URL
    assert [d["download_url"] for d in body["documents"]] == [
        f"/api/v1/kyc/documents/{d.pk}/file/" for d in documents
    ]
    again = _kyc_upload(client_for(user))
    assert again.status_code == 409
    assert KycSubmission.objects.count() == 1


def test_kyc_files_are_not_reachable_without_authorisation(client_for, api_client, settings):
    owner = make_user("artist")
    _kyc_upload(client_for(owner))
    document = KycDocument.objects.get(kind="id_front")
    url = f"/api/v1/kyc/documents/{document.pk}/file/"
    assert api_client.get(url).status_code == 401
    assert client_for(make_user("artist")).get(url).status_code == 404
    assert client_for(make_user("publisher")).get(url).status_code == 404
    assert client_for(make_user("station")).get(url).status_code == 404
    # Nothing under MEDIA_ROOT: the file cannot be reached through /media/ either.
    assert not (settings.MEDIA_ROOT / document.file.name).exists()
    mine = client_for(owner).get(url)
    assert mine.status_code == 200
    assert b"".join(mine.streaming_content) == PDF
    assert mine["Cache-Control"] == "private, no-store"
    staff = client_for(make_user("admin", staff_role="support")).get(url)
    assert b"".join(staff.streaming_content) == PDF
    assert (
        client_for(make_user("artist")).get(f"/api/v1/kyc/{document.submission_id}/").status_code
        == 404
    )


def test_kyc_refuses_files_that_are_not_documents(client_for):
    response = client_for(make_user("artist")).post(
        "/api/v1/kyc/",
        {
            "id_type": "passport",
            "id_number": "G1234567",
            "id_front": SimpleUploadedFile("id.pdf", b"MZ\x90\x00 an executable"),
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "documents": ["id.pdf: not a PDF, JPEG or PNG file."]
    }
    assert KycSubmission.objects.count() == 0
    assert KycDocument.objects.count() == 0


def test_kyc_decisions_are_support_actions_and_audited(client_for):
    owner = make_user("publisher")
    submission_id = _kyc_upload(client_for(owner)).json()["id"]
    for user in (owner, make_user("admin", staff_role="finance")):
        assert client_for(user).post(f"/api/v1/kyc/{submission_id}/approve/").status_code == 403
    assert KycSubmission.objects.get().status == "submitted"
    support = client_for(make_user("admin", staff_role="support"))
    no_reason = support.post(f"/api/v1/kyc/{submission_id}/reject/", {}, format="json")
    assert no_reason.status_code == 400
    rejected = support.post(
        f"/api/v1/kyc/{submission_id}/reject/", {"reason": "Photo unreadable"}, format="json"
    )
    assert (rejected.status_code, rejected.json()["status"]) == (200, "rejected")
    assert AuditLog.objects.filter(action="kyc.reject").count() == 1
    # Resubmission after a rejection, then approval.
    second = _kyc_upload(client_for(owner)).json()["id"]
    approved = support.post(f"/api/v1/kyc/{second}/approve/")
    assert approved.json()["status"] == "approved"
    assert AuditLog.objects.filter(action="kyc.approve", target_id=str(second)).count() == 1
    queue = support.get("/api/v1/kyc/?status=approved").json()
    assert [s["id"] for s in queue["results"]] == [second]


def test_payout_details_need_the_sms_code(client_for):
    user = make_user("artist", phone="+233201234567")
    client = client_for(user)
    assert client.get("/api/v1/payout-details/me/").status_code == 404
    client.post("/api/v1/auth/otp/", {"purpose": "payout_details"}, format="json")
    wrong = client.put(
        "/api/v1/payout-details/me/",
        {"msisdn": "0241234567", "network": "mtn", "otp_code": "000000"},
        format="json",
    )
    assert wrong.status_code == 400
    assert PayoutDetails.objects.count() == 0
    right = client.put(
        "/api/v1/payout-details/me/",
        {"msisdn": "0241234567", "network": "mtn", "otp_code": last_sms_code()},
        format="json",
    )
    assert right.status_code == 200, right.json()
    assert (right.json()["msisdn"], right.json()["kyc_status"]) == ("233241234567", "not_submitted")
    assert client_for(make_user("station")).get("/api/v1/payout-details/me/").status_code == 403


def test_relationship_suspension_is_for_staff(client_for):
    artist = ArtistFactory(user=make_user("artist"))
    publisher = PublisherFactory(user=make_user("publisher"))
    deal = services.relationship_propose(
        actor=artist.user,
        publisher=publisher,
        kind="co_publishing",
        share_bp=5000,
        start_date=artist.created_at.date(),
    )
    services.relationship_accept(actor=publisher.user, relationship=deal)
    url = f"/api/v1/relationships/{deal.pk}/suspend/"
    assert client_for(artist.user).post(url, {"reason": "x"}, format="json").status_code == 403
    staff = client_for(make_user("admin", staff_role="support"))
    assert staff.post(url, {"reason": "Dispute"}, format="json").json()["status"] == "suspended"
