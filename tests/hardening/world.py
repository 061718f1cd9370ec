"""A populated platform for the hardening suite: two of every kind of owner (side "a" and
side "b"), each with the rows an owner of that kind has, plus one user per staff role.

Rows are made through the owning apps' services where those services exist, so they are
the rows the API would have made; factories fill in what only a capture or a calculation
would create (plays, match windows). Every side's private text carries a marker
(``SECRET-A`` / ``SECRET-B``) so a response that leaks the other side's rows can be found
by searching its body.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.utils import timezone

from conftest import make_user
from users.models import User

PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PASSWORD = "Str0ng-pass-123"


def wav_bytes(seconds: float = 4.0, *, seed: int = 7, sr: int = 8000) -> bytes:
    """A short mono 16-bit WAV of seeded noise under a tone (decodable, fingerprintable)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    samples = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sr)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Side:
    """Everything one side owns. Side "b" is the stranger to side "a"'s users."""

    label: str
    marker: str
    artist_user: User
    publisher_user: User
    station_user: User
    artist: object = None
    publisher: object = None
    relationship: object = None
    track: object = None  # approved, on air
    draft_track: object = None  # private to its owner and staff
    split_version: object = None
    track_import: object = None
    kyc: object = None
    kyc_document: object = None
    station: object = None
    member: object = None  # the station's second staff member
    stream_link: object = None
    play: object = None
    disputed_play: object = None
    match_window: object = None
    station_upload: object = None
    playlog: object = None
    compliance_document: object = None
    dispute: object = None
    evidence: object = None
    invoice: object = None
    report: object = None
    withdrawal: object = None
    notifications: list = field(default_factory=list)


@dataclass
class World:
    a: Side
    b: Side
    support: User
    finance: User
    superadmin: User
    period: object
    open_period: object
    rate_card: object

    def users_by_role(self) -> dict[str, User | None]:
        """The acting user of each role: side a's accounts and the staff."""
        return {
            "anonymous": None,
            "artist": self.a.artist_user,
            "publisher": self.a.publisher_user,
            "station": self.a.station_user,
            "support": self.support,
            "finance": self.finance,
            "superadmin": self.superadmin,
        }


def _on_commit(fn, *args, **kwargs):
    # Services queue SMS/OTP/notifications on commit; the test transaction never commits.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return fn(*args, **kwargs)


def _sms_code() -> str:
    import re

    from notifications import sms

    return re.search(r"\b(\d{6})\b", sms.outbox[-1].body).group(1)


def _side(label: str, *, support: User, finance: User, period_month: date) -> Side:
    from artists import services as artist_services
    from artists.models import PayoutDetails, PublisherArtistRelationship
    from artists.services import KycFile
    from detections import disputes
    from detections.models import MatchCache
    from detections.services import station_upload_receive
    from detections.tests.factories import PlayLogFactory
    from notifications.services import notify
    from stations import services as station_services
    from stations.compliance import compliance_document_upload
    from stations.models import StationStaff
    from stations.playlogs import playlog_upload
    from stations.tests.factories import StationFactory
    from tracks import services as track_services
    from tracks.models import TrackImport, TrackStatus
    from tracks.tests.factories import TrackFactory
    from users.models import OtpPurpose
    from users.services import otp_request

    marker = f"SECRET-{label.upper()}"
    side = Side(
        label=label,
        marker=marker,
        artist_user=make_user("artist", email=f"artist-{label}@world.test"),
        publisher_user=make_user(
            "publisher",
            email=f"publisher-{label}@world.test",
            phone="+23320111111" + ("1" if label == "a" else "2"),
        ),
        station_user=make_user("station", email=f"station-{label}@world.test"),
    )
    # Catalogue: an artist, their publisher (an active deal), an approved track with a split
    # sheet and a draft only its owner may see.
    side.artist = artist_services.artist_profile_create(
        user=side.artist_user, stage_name=f"Stage {label.upper()}", bio=f"{marker} bio"
    )
    side.publisher = artist_services.publisher_profile_create(
        user=side.publisher_user, name=f"Publisher {label.upper()} Songs"
    )
    side.relationship = PublisherArtistRelationship.objects.create(
        publisher=side.publisher,
        artist=side.artist,
        kind="administration",
        status="active",
        share_bp=2000,
        start_date=date(2024, 1, 1),
        proposed_by="publisher",
    )
    side.track = TrackFactory(
        title=f"On Air {label.upper()}",
        primary_artist=side.artist,
        status=TrackStatus.APPROVED,
        created_by=side.artist_user,
    )
    side.split_version = track_services.splits_set(
        actor=support,
        track=side.track,
        shares=[
            track_services.ShareInput(
                role="composer", basis_points=10_000, artist_id=side.artist.pk
            )
        ],
        note=f"{marker} split note",
        split_sheet=SimpleUploadedFile("sheet.pdf", PDF_BYTES, content_type="application/pdf"),
    )
    side.draft_track = TrackFactory(
        title=f"{marker} draft", primary_artist=side.artist, created_by=side.artist_user
    )
    side.track_import = TrackImport.objects.create(
        created_by=side.artist_user, status="done", error=f"{marker} import"
    )
    # KYC waiting for support, and a payout number confirmed by SMS code.
    side.kyc = artist_services.kyc_submit(
        user=side.artist_user,
        id_type="passport",
        id_number=f"G{label.upper()}123456",
        documents=[
            KycFile(
                kind="id_front",
                file=SimpleUploadedFile("id.pdf", PDF_BYTES, content_type="application/pdf"),
            )
        ],
    )
    side.kyc_document = side.kyc.documents.get()
    # The publisher is the payee that withdraws: approved KYC and a MoMo number.
    publisher_kyc = artist_services.kyc_submit(
        user=side.publisher_user,
        id_type="passport",
        id_number=f"P{label.upper()}123456",
        documents=[
            KycFile(
                kind="id_front",
                file=SimpleUploadedFile("id.pdf", PDF_BYTES, content_type="application/pdf"),
            )
        ],
    )
    artist_services.kyc_approve(actor=support, submission=publisher_kyc)
    _on_commit(otp_request, user=side.publisher_user, purpose=OtpPurpose.PAYOUT_DETAILS)
    artist_services.payout_details_set(
        user=side.publisher_user,
        msisdn="0241234567" if label == "a" else "0247654321",
        network="mtn",
        otp_code=_sms_code(),
    )
    # Set up well before today: a payout number changed today is in its cooling-off period.
    PayoutDetails.objects.filter(user=side.publisher_user).update(
        changed_at=timezone.now() - timedelta(days=3)
    )
    # The station: a manager (the acting user), a second member, a stream link.
    side.station = StationFactory(
        name=f"Radio {label.upper()} FM", slug=f"radio-{label}", call_sign=f"RAD{label.upper()}"
    )
    StationStaff.objects.create(station=side.station, user=side.station_user, role="manager")
    side.member = StationStaff.objects.create(
        station=side.station,
        user=make_user("station", email=f"member-{label}@world.test"),
        role="staff",
    )
    side.stream_link = station_services.stream_link_create(
        actor=side.station_user,
        station=side.station,
        url=f"http://203.0.114.{10 if label == 'a' else 20}:8000/{marker.lower()}",
        kind="primary",
    )
    # Airplay: a play last period (priced and closed below) and one this month (disputed).
    started = timezone.make_aware(
        timezone.datetime(period_month.year, period_month.month, 10, 12, 0)
    )
    side.play = PlayLogFactory(
        station=side.station, track=side.track, started_at=started, alignment=1000.0
    )
    recent = timezone.now() - timedelta(hours=2)
    side.disputed_play = PlayLogFactory(
        station=side.station, track=side.track, started_at=recent, alignment=2000.0
    )
    side.match_window = MatchCache.objects.create(
        station=side.station,
        captured_at=recent,
        window_seconds=10.0,
        window_key=f"radio:{recent.isoformat()}:{label}",
        source="radio",
        track=side.track,
        confidence=0.9,
        status="verified",
        play=side.disputed_play,
    )
    side.station_upload = station_upload_receive(
        station_id=side.station.pk,
        user=side.station_user,
        chunk_id=f"{marker}-chunk",
        captured_at=recent,
        data=wav_bytes(seed=ord(label)),
        filename="clip.wav",
    ).upload
    side.playlog = playlog_upload(
        actor=side.station_user,
        station_id=side.station.pk,
        name=f"{marker}-log.csv",
        data=(
            "played_at,title,artist,duration\n"
            f"{recent.isoformat()},{side.track.title},{side.artist.stage_name},180\n"
        ).encode(),
    )
    side.compliance_document = compliance_document_upload(
        actor=side.station_user,
        station_id=side.station.pk,
        document_type="playlist_return",
        period=period_month,
        name=f"{marker}-return.pdf",
        data=PDF_BYTES,
    )
    side.dispute = _on_commit(
        disputes.dispute_open,
        actor=side.artist_user,
        play_id=side.disputed_play.pk,
        dispute_type="not_aired",
        description=f"{marker} was not on air",
    )
    side.evidence = _on_commit(
        disputes.dispute_evidence_add,
        actor=side.artist_user,
        dispute_id=side.dispute.pk,
        file=disputes.EvidenceFile(name="log.txt", data=f"{marker} evidence".encode()),
        note=f"{marker} note",
    )
    for user in (side.artist_user, side.publisher_user, side.station_user):
        side.notifications.append(
            notify(user=user, kind="announcement", title=f"{marker} hello", body=f"{marker} body")
        )
    return side


def _settle(world: World) -> None:
    """Closes last month (station invoices, royalty lines, ledger), then each publisher
    requests a payout from a funded wallet and asks for a statement."""
    from royalties.models import StationInvoice
    from royalties.services import period_close, report_request
    from wallets import services as wallet_services
    from wallets.services import withdrawal_request

    _on_commit(period_close, period_id=world.period.pk, actor=world.finance)
    world.period.refresh_from_db()
    for side in (world.a, world.b):
        side.invoice = StationInvoice.objects.get(period=world.period, station=side.station)
        wallet = wallet_services.account_for_user(user_id=side.publisher_user.pk)
        wallet_services.ledger_post(
            idempotency_key=f"world-fund:{side.label}",
            memo="Royalties",
            postings=[
                wallet_services.Posting.debit(
                    wallet_services.platform_account("royalty_pool"), Decimal("100.00")
                ),
                wallet_services.Posting.credit(wallet, Decimal("100.00")),
            ],
            reference_type="royalty_period",
            reference_id=str(world.period.pk),
        )
        side.withdrawal = withdrawal_request(
            user=side.publisher_user, amount=Decimal("25.00"), request_key=f"world-{side.label}"
        )
        side.report = report_request(
            actor=side.artist_user,
            kind="statement",
            format="csv",
            period_id=world.period.pk,
            subject_user_id=side.artist_user.pk,
        )


def build_world() -> World:
    """Both sides, the staff, a rate card, last month closed and this month open."""
    from royalties.services import period_get_or_create, rate_card_create

    support = make_user("admin", staff_role="support", email="support@world.test")
    finance = make_user("admin", staff_role="finance", email="finance@world.test")
    superadmin = make_user("admin", staff_role="superadmin", email="superadmin@world.test")
    this_month = timezone.localdate().replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    rate_card = rate_card_create(
        actor=finance,
        name="World rates",
        effective_from=timezone.make_aware(
            timezone.datetime(last_month.year, last_month.month, 1) - timedelta(days=31)
        ),
        cmo_fee_percent=Decimal("10.00"),
        min_play_seconds=Decimal("20.00"),
        rates={c: Decimal("0.010000") for c in ("A", "B", "C", "community", "online")},
        bands=[],
    )
    period = period_get_or_create(month=last_month)
    open_period = period_get_or_create(month=this_month)
    world = World(
        a=_side("a", support=support, finance=finance, period_month=last_month),
        b=_side("b", support=support, finance=finance, period_month=last_month),
        support=support,
        finance=finance,
        superadmin=superadmin,
        period=period,
        open_period=open_period,
        rate_card=rate_card,
    )
    _settle(world)
    return world
