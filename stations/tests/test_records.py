"""Compliance documents (upload, review, missing months) and the playlog and compliance
endpoints' wiring and permissions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from conftest import make_user
from stations import compliance
from stations.models import ComplianceDocument, StationPlaylog, StationStaff
from stations.selectors import compliance_missing_months
from stations.tests.factories import StationFactory
from users.models import AuditLog
from zamio.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def cast(db):
    station = StationFactory()
    other = StationFactory()
    user, other_user = make_user("station"), make_user("station")
    StationStaff.objects.create(station=station, user=user)
    StationStaff.objects.create(station=other, user=other_user)
    return {
        "station": station,
        "other": other,
        "user": user,
        "other_user": other_user,
        "support": make_user("admin", staff_role="support"),
        "finance": make_user("admin", staff_role="finance"),
        "artist": make_user("artist"),
    }


def _upload(cast, period=date(2025, 1, 1), kind="playlist_return", data=PDF, name="jan.pdf"):
    return compliance.compliance_document_upload(
        actor=cast["user"],
        station_id=cast["station"].pk,
        document_type=kind,
        period=period,
        name=name,
        data=data,
    )


def test_upload_review_and_replace_a_rejected_document(cast):
    document = _upload(cast, period=date(2025, 1, 17))
    assert (document.period, document.status, document.content_type) == (
        date(2025, 1, 1),
        "submitted",
        "application/pdf",
    )
    with pytest.raises(Conflict):
        _upload(cast)
    with pytest.raises(Forbidden):
        compliance.compliance_document_review(
            actor=cast["finance"], document_id=document.pk, status="accepted"
        )
    with pytest.raises(ValidationFailed):
        compliance.compliance_document_review(
            actor=cast["support"], document_id=document.pk, status="rejected"
        )

    compliance.compliance_document_review(
        actor=cast["support"], document_id=document.pk, status="rejected", note="Unsigned."
    )
    with pytest.raises(InvalidTransition):
        compliance.compliance_document_review(
            actor=cast["support"], document_id=document.pk, status="accepted"
        )
    replacement = _upload(cast, name="jan-signed.pdf")

    assert replacement.status == "submitted"
    assert ComplianceDocument.objects.count() == 2
    assert list(
        AuditLog.objects.filter(action__startswith="stations.compliance").values_list(
            "action", flat=True
        )
    ) == ["stations.compliance_upload", "stations.compliance_review", "stations.compliance_upload"]


def test_refused_uploads_store_nothing(cast, settings):
    future = (timezone.localdate().replace(day=1) + timedelta(days=40)).replace(day=1)
    with pytest.raises(ValidationFailed):
        _upload(cast, period=future)
    with pytest.raises(ValidationFailed):
        _upload(cast, data=b"MZ not a pdf")
    with pytest.raises(ValidationFailed):
        _upload(cast, name="doc.exe")
    with pytest.raises(ValidationFailed):
        _upload(cast, kind="tax_secret")
    with pytest.raises(NotFound):
        compliance.compliance_document_upload(
            actor=cast["other_user"],
            station_id=cast["station"].pk,
            document_type="playlist_return",
            period=date(2025, 1, 1),
            name="x.pdf",
            data=PDF,
        )
    assert ComplianceDocument.objects.count() == 0
    folder = settings.PRIVATE_MEDIA_ROOT / "compliance"
    assert not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))


def test_missing_months_are_those_without_a_live_document_of_each_required_type(cast, settings):
    settings.STATIONS_COMPLIANCE_REQUIRED_TYPES = ["playlist_return", "licence_fee_receipt"]
    station = cast["station"]
    type(station).objects.filter(pk=station.pk).update(created_at=datetime(2025, 1, 20, tzinfo=UTC))
    _upload(cast, period=date(2025, 1, 1))
    _upload(cast, period=date(2025, 1, 1), kind="licence_fee_receipt")
    _upload(cast, period=date(2025, 2, 1))
    rejected = _upload(cast, period=date(2025, 3, 1))
    compliance.compliance_document_review(
        actor=cast["support"], document_id=rejected.pk, status="rejected", note="Blurry"
    )

    result = compliance_missing_months(
        stations=type(station).objects.filter(pk=station.pk), month_to=date(2025, 4, 1)
    )

    assert result == [
        {
            "station_id": station.pk,
            "station_name": station.name,
            "missing": [
                {"period": date(2025, 2, 1), "document_types": ["licence_fee_receipt"]},
                {
                    "period": date(2025, 3, 1),
                    "document_types": ["playlist_return", "licence_fee_receipt"],
                },
                {
                    "period": date(2025, 4, 1),
                    "document_types": ["playlist_return", "licence_fee_receipt"],
                },
            ],
        }
    ]


def test_compliance_endpoints_per_role(cast, client_for, api_client):
    station = cast["station"]
    url = f"/api/v1/stations/{station.pk}/compliance-documents/"
    body = {
        "file": SimpleUploadedFile("jan.pdf", PDF),
        "document_type": "playlist_return",
        "period": "2025-01",
    }

    assert api_client.post(url, body, format="multipart").status_code == 401
    assert client_for(cast["artist"]).post(url, body, format="multipart").status_code == 403
    body["file"] = SimpleUploadedFile("jan.pdf", PDF)
    assert client_for(cast["other_user"]).post(url, body, format="multipart").status_code == 404
    assert ComplianceDocument.objects.count() == 0
    body["file"] = SimpleUploadedFile("jan.pdf", PDF)
    created = client_for(cast["user"]).post(url, body, format="multipart")
    assert created.status_code == 201, created.json()
    doc_id = created.json()["id"]

    file_url = f"/api/v1/compliance-documents/{doc_id}/file/"
    assert client_for(cast["other_user"]).get(file_url).status_code == 404
    assert client_for(cast["artist"]).get(file_url).status_code == 403
    served = client_for(cast["finance"]).get(file_url)
    assert b"".join(served.streaming_content) == PDF
    assert [
        d["id"]
        for d in client_for(cast["other_user"])
        .get("/api/v1/compliance-documents/")
        .json()["results"]
    ] == []

    review = f"/api/v1/compliance-documents/{doc_id}/review/"
    assert (
        client_for(cast["user"]).post(review, {"status": "accepted"}, format="json").status_code
        == 403
    )
    assert (
        client_for(cast["support"])
        .post(review, {"status": "accepted"}, format="json")
        .json()["status"]
        == "accepted"
    )

    missing = client_for(cast["user"]).get("/api/v1/compliance/missing/")
    assert [row["station_id"] for row in missing.json()] == [station.pk]
    assert (
        client_for(cast["user"])
        .get("/api/v1/compliance/missing/", {"station": cast["other"].pk})
        .status_code
        == 404
    )
    assert len(client_for(cast["support"]).get("/api/v1/compliance/missing/").json()) == 2


def test_playlog_endpoints_per_role(cast, client_for, api_client):
    station = cast["station"]
    start = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()
    csv_bytes = f"title,artist,start_time,duration\nA,X,{start},60\n=B,X,{start},60\n".encode()
    url = f"/api/v1/stations/{station.pk}/playlogs/"

    def body():
        return {"file": SimpleUploadedFile("day.csv", csv_bytes)}

    assert api_client.post(url, body(), format="multipart").status_code == 401
    assert client_for(cast["artist"]).post(url, body(), format="multipart").status_code == 403
    assert client_for(cast["other_user"]).post(url, body(), format="multipart").status_code == 404
    assert StationPlaylog.objects.count() == 0
    created = client_for(cast["user"]).post(url, body(), format="multipart")
    assert created.status_code == 201
    data = created.json()
    assert (data["rows_accepted"], data["rows_rejected"]) == (1, 1)
    assert data["rejections"][0]["row"] == 3

    assert client_for(cast["other_user"]).get(f"/api/v1/playlogs/{data['id']}/").status_code == 404
    entries = client_for(cast["support"]).get(f"/api/v1/playlogs/{data['id']}/entries/").json()
    assert [e["title"] for e in entries["results"]] == ["A"]
    bomb = client_for(cast["user"]).post(
        url,
        {"file": SimpleUploadedFile("x.xml", b'<!DOCTYPE a [<!ENTITY b "c">]><a/>')},
        format="multipart",
    )
    assert bomb.status_code == 400
    assert (
        client_for(cast["other_user"]).delete(f"/api/v1/playlogs/{data['id']}/").status_code == 404
    )
    assert client_for(cast["user"]).delete(f"/api/v1/playlogs/{data['id']}/").status_code == 204
    assert StationPlaylog.objects.count() == 0


def test_admin_accepts_documents_through_the_review_service(cast, client):
    document = _upload(cast)
    admin_user = make_user("admin", staff_role="superadmin")
    client.force_login(admin_user)

    response = client.post(
        "/admin/stations/compliancedocument/",
        {"action": "accept", "_selected_action": [document.pk]},
    )

    assert response.status_code == 302
    document.refresh_from_db()
    assert (document.status, document.reviewed_by_id) == ("accepted", admin_user.pk)
    assert AuditLog.objects.filter(action="stations.compliance_review").count() == 1
