"""Disputes: who may open one, every transition allowed and refused per role, withholding
and releasing royalties, evidence, and staff corrections of a play."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import TestCase

from detections import disputes
from detections.models import (
    Dispute,
    DisputeEntry,
    DisputeEvidence,
    DisputeStatus,
    PlayDaily,
    PlayLog,
    PlayOverride,
    RoyaltyStatus,
    VerificationStatus,
)
from detections.tests.parties import Parties
from notifications.models import Notification
from users.models import AuditLog
from zamio.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def wav_bytes(seconds: float = 0.5) -> bytes:
    import io
    import wave

    import numpy as np

    rng = np.random.default_rng(7)
    samples = (rng.standard_normal(int(8000 * seconds)) * 3000).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def _open(p: Parties, actor=None, **kwargs) -> Dispute:
    return disputes.dispute_open(
        actor=actor or p.station_user,
        play_id=kwargs.pop("play_id", p.play.pk),
        dispute_type=kwargs.pop("dispute_type", "not_aired"),
        description=kwargs.pop("description", "We did not air this at 08:00."),
        **kwargs,
    )


def _state(dispute: Dispute) -> tuple:
    dispute.refresh_from_db()
    play = PlayLog.objects.get(pk=dispute.play_id)
    return (
        dispute.status,
        DisputeEntry.objects.filter(dispute=dispute).count(),
        AuditLog.objects.count(),
        play.verification_status,
        play.royalty_status,
    )


def _to(p: Parties, status: str, **open_kwargs) -> Dispute:
    """A dispute driven to `status` by the allowed path."""
    dispute = _open(p, **open_kwargs)
    if status == DisputeStatus.SUBMITTED:
        return dispute
    disputes.dispute_review_start(actor=p.support, dispute_id=dispute.pk)
    if status == DisputeStatus.EVIDENCE_REQUIRED:
        disputes.dispute_evidence_request(
            actor=p.support, dispute_id=dispute.pk, note="Send the studio log."
        )
    elif status == DisputeStatus.ESCALATED:
        disputes.dispute_escalate(actor=p.support, dispute_id=dispute.pk, note="Contested.")
    elif status == DisputeStatus.RESOLVED:
        disputes.dispute_resolve(
            actor=p.support, dispute_id=dispute.pk, outcome="rejected", note="We heard it."
        )
    elif status == DisputeStatus.WITHDRAWN:
        disputes.dispute_withdraw(actor=dispute.opened_by, dispute_id=dispute.pk)
    dispute.refresh_from_db()
    assert dispute.status == status
    return dispute


# --- Opening --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "who, opened_as",
    [
        ("station_user", "station"),
        ("artist_user", "artist"),
        ("featured_user", "artist"),
        ("publisher_user", "publisher"),
        ("support", "staff"),
        ("finance", "staff"),
    ],
)
def test_anyone_with_a_stake_opens_a_dispute_and_the_play_is_withheld(parties, who, opened_as):
    actor = getattr(parties, who)
    with TestCase.captureOnCommitCallbacks(execute=True):
        dispute = _open(parties, actor=actor, dispute_type="wrong_duration")

    play = PlayLog.objects.get(pk=parties.play.pk)
    assert (dispute.status, dispute.opened_as) == (DisputeStatus.SUBMITTED, opened_as)
    assert (dispute.play_verification_before, dispute.play_royalty_before) == (
        "verified",
        "pending",
    )
    assert play.verification_status == VerificationStatus.DISPUTED
    assert play.royalty_status == RoyaltyStatus.WITHHELD
    assert list(dispute.entries.values_list("kind", "to_status")) == [("transition", "submitted")]
    assert AuditLog.objects.filter(action="detections.dispute_open", target_id=str(dispute.pk))
    notified = set(
        Notification.objects.filter(kind="dispute_opened").values_list("user", flat=True)
    )
    everyone = {
        parties.station_user.pk,
        parties.artist_user.pk,
        parties.featured_user.pk,
        parties.publisher_user.pk,
    }
    assert notified == everyone - {actor.pk}


@pytest.mark.parametrize("who", ["other_station_user", "other_artist_user", "other_publisher_user"])
def test_someone_without_a_stake_cannot_open_a_dispute_and_nothing_changes(parties, who):
    with pytest.raises(NotFound):
        _open(parties, actor=getattr(parties, who))

    play = PlayLog.objects.get(pk=parties.play.pk)
    assert (play.verification_status, play.royalty_status) == ("verified", "pending")
    assert Dispute.objects.count() == 0
    assert Notification.objects.count() == 0


def test_a_second_dispute_on_the_same_play_is_refused_with_the_open_ones_id(parties):
    first = _open(parties)

    with pytest.raises(Conflict) as refused:
        _open(parties, actor=parties.artist_user, dispute_type="wrong_split")

    assert refused.value.details == {"dispute_id": first.pk}
    assert Dispute.objects.count() == 1
    # After the first is resolved, a new one may be opened.
    disputes.dispute_review_start(actor=parties.support, dispute_id=first.pk)
    disputes.dispute_resolve(
        actor=parties.support, dispute_id=first.pk, outcome="rejected", note="It aired."
    )
    second = _open(parties, actor=parties.artist_user, dispute_type="wrong_split")
    assert second.play_verification_before == "verified"


def test_a_play_still_on_air_cannot_be_disputed(parties):
    PlayLog.objects.filter(pk=parties.play.pk).update(is_open=True)

    with pytest.raises(Conflict) as refused:
        _open(parties)

    assert refused.value.code == "play_on_air"
    assert Dispute.objects.count() == 0


def test_an_unknown_type_an_empty_description_or_a_bad_file_change_nothing(parties):
    with pytest.raises(ValidationFailed):
        _open(parties, dispute_type="bad_vibes")
    with pytest.raises(ValidationFailed):
        _open(parties, description="   ")
    with pytest.raises(ValidationFailed) as bad_file:
        _open(parties, files=[disputes.EvidenceFile(name="log.pdf", data=b"MZ\x90 not a pdf")])
    assert "not PDF" in bad_file.value.details["files"][0]
    with pytest.raises(ValidationFailed):
        _open(parties, files=[disputes.EvidenceFile(name="run.exe", data=b"MZ\x90")])

    assert Dispute.objects.count() == 0
    assert DisputeEvidence.objects.count() == 0
    assert PlayLog.objects.get(pk=parties.play.pk).verification_status == "verified"


# --- Transitions: allowed -------------------------------------------------------------------
def test_the_whole_path_submitted_review_evidence_review_resolved(parties):
    with TestCase.captureOnCommitCallbacks(execute=True):
        dispute = _open(parties, actor=parties.artist_user, dispute_type="wrong_split")
        disputes.dispute_review_start(actor=parties.support, dispute_id=dispute.pk, note="Mine.")
        disputes.dispute_evidence_request(
            actor=parties.support, dispute_id=dispute.pk, note="Send the split sheet."
        )
        disputes.dispute_evidence_add(
            actor=parties.artist_user,
            dispute_id=dispute.pk,
            file=disputes.EvidenceFile(name="split.pdf", data=PDF),
            note="Signed sheet",
        )
        dispute.refresh_from_db()
        assert dispute.status == DisputeStatus.UNDER_REVIEW  # the party's evidence answered
        disputes.dispute_comment_add(
            actor=parties.publisher_user, dispute_id=dispute.pk, body="We agree with the sheet."
        )
        disputes.dispute_resolve(
            actor=parties.support, dispute_id=dispute.pk, outcome="upheld", note="Splits fixed."
        )

    dispute.refresh_from_db()
    play = PlayLog.objects.get(pk=parties.play.pk)
    assert (dispute.status, dispute.outcome, dispute.play_verdict) == (
        "resolved",
        "upheld",
        "verified",
    )
    assert dispute.assigned_to == parties.support
    assert (play.verification_status, play.royalty_status) == ("verified", "pending")
    assert list(dispute.entries.values_list("kind", "from_status", "to_status")) == [
        ("transition", "", "submitted"),
        ("transition", "submitted", "under_review"),
        ("transition", "under_review", "evidence_required"),
        ("evidence", "", ""),
        ("transition", "evidence_required", "under_review"),
        ("comment", "", ""),
        ("transition", "under_review", "resolved"),
    ]
    actions = list(
        AuditLog.objects.filter(target_id=str(dispute.pk), target_type="detections.dispute")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "detections.dispute_open",
        "detections.dispute_review_start",
        "detections.dispute_evidence_request",
        "detections.dispute_evidence_add",
        "detections.dispute_evidence_received",
        "detections.dispute_resolve",
    ]
    resolved_to = set(
        Notification.objects.filter(kind="dispute_resolved").values_list("user", flat=True)
    )
    assert resolved_to == {
        parties.station_user.pk,
        parties.artist_user.pk,
        parties.featured_user.pk,
        parties.publisher_user.pk,
    }
    assert Notification.objects.filter(kind="dispute_updated", user=parties.support).exists()


def test_an_escalated_dispute_is_resolved_by_a_superadmin_and_not_aired_rejects_the_play(parties):
    dispute = _to(parties, DisputeStatus.ESCALATED)

    with pytest.raises(Forbidden):
        disputes.dispute_resolve(
            actor=parties.support, dispute_id=dispute.pk, outcome="upheld", note="Not aired."
        )
    assert dispute.status == DisputeStatus.ESCALATED
    disputes.dispute_resolve(
        actor=parties.superadmin, dispute_id=dispute.pk, outcome="upheld", note="Not aired."
    )

    dispute.refresh_from_db()
    play = PlayLog.objects.get(pk=parties.play.pk)
    assert (dispute.status, dispute.play_verdict) == ("resolved", "rejected")
    assert (play.verification_status, play.royalty_status) == ("rejected", "withheld")


def test_the_opener_withdraws_and_the_play_gets_its_statuses_back(parties):
    PlayLog.objects.filter(pk=parties.play.pk).update(verification_status="pending_review")
    dispute = _to(parties, DisputeStatus.UNDER_REVIEW)

    disputes.dispute_withdraw(actor=parties.station_user, dispute_id=dispute.pk, note="Found it.")

    play = PlayLog.objects.get(pk=parties.play.pk)
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.WITHDRAWN
    assert (play.verification_status, play.royalty_status) == ("pending_review", "pending")


# --- Transitions: refused (per role and per state), nothing changes -------------------------
SUPPORT_ONLY = ["station_user", "artist_user", "publisher_user", "finance"]


@pytest.mark.parametrize("who", SUPPORT_ONLY)
@pytest.mark.parametrize(
    "transition, start",
    [
        ("review_start", DisputeStatus.SUBMITTED),
        ("evidence_request", DisputeStatus.UNDER_REVIEW),
        ("escalate", DisputeStatus.UNDER_REVIEW),
        ("resolve", DisputeStatus.UNDER_REVIEW),
    ],
)
def test_staff_transitions_are_refused_to_parties_and_finance(parties, who, transition, start):
    dispute = _to(parties, start)
    before = _state(dispute)

    with pytest.raises(Forbidden):
        _call(transition, actor=getattr(parties, who), dispute=dispute)

    assert _state(dispute) == before


def _call(transition: str, *, actor, dispute: Dispute):
    if transition == "review_start":
        return disputes.dispute_review_start(actor=actor, dispute_id=dispute.pk)
    if transition == "evidence_request":
        return disputes.dispute_evidence_request(actor=actor, dispute_id=dispute.pk, note="Logs.")
    if transition == "escalate":
        return disputes.dispute_escalate(actor=actor, dispute_id=dispute.pk, note="Hard one.")
    if transition == "resolve":
        return disputes.dispute_resolve(
            actor=actor, dispute_id=dispute.pk, outcome="rejected", note="Heard it."
        )
    if transition == "withdraw":
        return disputes.dispute_withdraw(actor=actor, dispute_id=dispute.pk)
    raise AssertionError(transition)


@pytest.mark.parametrize(
    "transition, start",
    [
        ("review_start", DisputeStatus.UNDER_REVIEW),
        ("review_start", DisputeStatus.RESOLVED),
        ("evidence_request", DisputeStatus.SUBMITTED),
        ("evidence_request", DisputeStatus.EVIDENCE_REQUIRED),
        ("evidence_request", DisputeStatus.ESCALATED),
        ("escalate", DisputeStatus.SUBMITTED),
        ("escalate", DisputeStatus.ESCALATED),
        ("escalate", DisputeStatus.RESOLVED),
        ("resolve", DisputeStatus.SUBMITTED),
        ("resolve", DisputeStatus.RESOLVED),
        ("resolve", DisputeStatus.WITHDRAWN),
        ("withdraw", DisputeStatus.RESOLVED),
        ("withdraw", DisputeStatus.WITHDRAWN),
    ],
)
def test_transitions_from_the_wrong_state_are_refused_with_409(parties, transition, start):
    dispute = _to(parties, start)
    before = _state(dispute)
    actor = parties.station_user if transition == "withdraw" else parties.superadmin

    with pytest.raises(InvalidTransition):
        _call(transition, actor=actor, dispute=dispute)

    assert _state(dispute) == before


def test_only_the_opener_withdraws(parties):
    dispute = _to(parties, DisputeStatus.SUBMITTED)
    before = _state(dispute)

    for other in (parties.artist_user, parties.support, parties.superadmin):
        with pytest.raises(Forbidden):
            disputes.dispute_withdraw(actor=other, dispute_id=dispute.pk)

    assert _state(dispute) == before


def test_outsiders_cannot_see_comment_on_or_add_evidence_to_a_dispute(parties):
    dispute = _to(parties, DisputeStatus.EVIDENCE_REQUIRED)
    before = _state(dispute)

    for outsider in (parties.other_station_user, parties.other_artist_user):
        with pytest.raises(NotFound):
            disputes.dispute_comment_add(actor=outsider, dispute_id=dispute.pk, body="Me too")
        with pytest.raises(NotFound):
            disputes.dispute_evidence_add(
                actor=outsider,
                dispute_id=dispute.pk,
                file=disputes.EvidenceFile(name="x.pdf", data=PDF),
            )

    assert _state(dispute) == before
    assert DisputeEvidence.objects.count() == 0


def test_a_closed_dispute_takes_no_more_comments_or_evidence(parties):
    dispute = _to(parties, DisputeStatus.RESOLVED)

    with pytest.raises(InvalidTransition):
        disputes.dispute_comment_add(actor=parties.station_user, dispute_id=dispute.pk, body="!")
    with pytest.raises(InvalidTransition):
        disputes.dispute_evidence_add(
            actor=parties.station_user,
            dispute_id=dispute.pk,
            file=disputes.EvidenceFile(name="x.pdf", data=PDF),
        )
    assert DisputeEvidence.objects.count() == 0


# --- Evidence -------------------------------------------------------------------------------
def test_evidence_is_stored_privately_once_per_file_and_typed_from_its_bytes(parties, settings):
    clip = wav_bytes()
    dispute = _open(
        parties,
        files=[
            disputes.EvidenceFile(name="air-check.wav", data=clip),
            disputes.EvidenceFile(name="log.pdf", data=PDF),
        ],
    )

    stored = list(dispute.evidence.order_by("id"))
    assert [(e.original_name, e.content_type, e.size_bytes) for e in stored] == [
        ("air-check.wav", "audio/wav", len(clip)),
        ("log.pdf", "application/pdf", len(PDF)),
    ]
    with stored[0].file.open("rb") as fh:
        assert fh.read() == clip
    assert stored[0].file.path.startswith(str(settings.PRIVATE_MEDIA_ROOT))
    with pytest.raises(ValueError):
        stored[0].file.url  # noqa: B018  (private files have no URL)
    with pytest.raises(Conflict):
        disputes.dispute_evidence_add(
            actor=parties.artist_user,
            dispute_id=dispute.pk,
            file=disputes.EvidenceFile(name="again.pdf", data=PDF),
        )
    assert dispute.evidence.count() == 2


def test_evidence_of_a_refused_open_leaves_no_file_behind(parties, settings):
    PlayLog.objects.filter(pk=parties.play.pk).update(is_open=True)

    with pytest.raises(Conflict):
        _open(parties, files=[disputes.EvidenceFile(name="log.pdf", data=PDF)])

    folder = settings.PRIVATE_MEDIA_ROOT / "dispute-evidence"
    assert not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))


# --- Money: withheld while open, released or cancelled on resolution -------------------------
@pytest.fixture
def priced(parties):
    """The parties' play priced by the royalty calculator (lines in an open period)."""
    from royalties.services import plays_calculate
    from royalties.tests.factories import accra, contributor_for, rate_card, splits

    rate_card(effective_from=accra(2025, 1, 1))
    splits(
        parties.track,
        [(contributor_for(parties.track.primary_artist), "performer", 10_000)],
        effective_from=accra(2024, 1, 1),
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        plays_calculate()
    parties.play.refresh_from_db()
    assert parties.play.royalty_status == RoyaltyStatus.CALCULATED
    return parties


def _royalty_total(play_id: int) -> Decimal:
    from django.db.models import Sum

    from royalties.models import RoyaltyLine

    return RoyaltyLine.objects.filter(play_royalty__play_id=play_id).aggregate(s=Sum("amount"))[
        "s"
    ] or Decimal("0")


def test_opening_withholds_priced_royalties_and_upholding_the_play_releases_them(priced):
    from royalties.services import plays_calculate

    play_id = priced.play.pk
    priced_total = _royalty_total(play_id)
    assert priced_total > 0

    with TestCase.captureOnCommitCallbacks(execute=True):
        dispute = _open(priced, actor=priced.artist_user, dispute_type="wrong_split")
    assert _royalty_total(play_id) == Decimal("0")  # taken out of the open period
    assert PlayLog.objects.get(pk=play_id).royalty_status == RoyaltyStatus.WITHHELD
    with TestCase.captureOnCommitCallbacks(execute=True):
        plays_calculate()
    assert _royalty_total(play_id) == Decimal("0")  # the calculator skips withheld plays

    with TestCase.captureOnCommitCallbacks(execute=True):
        disputes.dispute_review_start(actor=priced.support, dispute_id=dispute.pk)
        disputes.dispute_resolve(
            actor=priced.support, dispute_id=dispute.pk, outcome="rejected", note="Splits right."
        )
        assert PlayLog.objects.get(pk=play_id).royalty_status == RoyaltyStatus.PENDING
        plays_calculate()

    assert _royalty_total(play_id) == priced_total
    assert PlayLog.objects.get(pk=play_id).royalty_status == RoyaltyStatus.CALCULATED


def test_a_play_rejected_by_its_dispute_keeps_its_royalties_cancelled(priced):
    from royalties.services import plays_calculate

    play_id = priced.play.pk
    with TestCase.captureOnCommitCallbacks(execute=True):
        dispute = _open(priced, dispute_type="not_aired")
        disputes.dispute_review_start(actor=priced.support, dispute_id=dispute.pk)
        disputes.dispute_resolve(
            actor=priced.support, dispute_id=dispute.pk, outcome="upheld", note="Off air."
        )
    with TestCase.captureOnCommitCallbacks(execute=True):
        plays_calculate()

    play = PlayLog.objects.get(pk=play_id)
    assert (play.verification_status, play.royalty_status) == ("rejected", "withheld")
    assert _royalty_total(play_id) == Decimal("0")


def test_a_play_under_dispute_cannot_be_reviewed_around_the_dispute(parties):
    from detections.services import play_review

    _open(parties)

    with pytest.raises(InvalidTransition):
        play_review(actor=parties.support, play_id=parties.play.pk, status="verified")
    assert PlayLog.objects.get(pk=parties.play.pk).verification_status == "disputed"


# --- Staff corrections ----------------------------------------------------------------------
def test_support_corrects_the_track_inside_a_dispute_and_the_previous_values_are_kept(parties):
    dispute = _to(parties, DisputeStatus.UNDER_REVIEW, dispute_type="wrong_track")
    play = parties.play
    old_start = play.started_at

    with TestCase.captureOnCommitCallbacks(execute=True):
        override = disputes.play_override(
            actor=parties.support,
            play_id=play.pk,
            track_id=parties.other_track.pk,
            started_at=old_start + timedelta(seconds=10),
            confidence=0.5,
            reason="It was Yaw's song, 10 s later.",
            dispute_id=dispute.pk,
        )
        disputes.dispute_resolve(
            actor=parties.support, dispute_id=dispute.pk, outcome="upheld", note="Corrected."
        )

    play.refresh_from_db()
    assert override.before == {
        "track_id": parties.track.pk,
        "started_at": old_start.isoformat(),
        "ended_at": (old_start + timedelta(seconds=180)).isoformat(),
        "duration_seconds": "180.00",
        "avg_confidence": 0.9,
    }
    assert override.after == {
        "track_id": parties.other_track.pk,
        "started_at": (old_start + timedelta(seconds=10)).isoformat(),
        "duration_seconds": "170.00",
        "avg_confidence": 0.5,
    }
    assert (play.track_id, play.duration_seconds, play.avg_confidence) == (
        parties.other_track.pk,
        Decimal("170.00"),
        0.5,
    )
    # A corrected "wrong track" stands: the play is verified for its new track.
    assert (play.verification_status, play.royalty_status) == ("verified", "pending")
    assert AuditLog.objects.filter(action="detections.play_override", target_id=str(play.pk))
    assert dispute.entries.filter(kind="override").count() == 1
    assert list(PlayDaily.objects.values_list("track_id", "plays", "airtime_seconds")) == [
        (parties.other_track.pk, 1, Decimal("170.00"))
    ]


def test_a_correction_is_refused_to_non_support_and_for_impossible_values(parties):
    play = parties.play
    for actor in (parties.finance, parties.station_user, parties.artist_user):
        with pytest.raises(Forbidden):
            disputes.play_override(actor=actor, play_id=play.pk, confidence=0.1, reason="x")
    with pytest.raises(ValidationFailed):
        disputes.play_override(
            actor=parties.support,
            play_id=play.pk,
            ended_at=play.started_at - timedelta(seconds=1),
            reason="Backwards",
        )
    with pytest.raises(ValidationFailed):
        disputes.play_override(actor=parties.support, play_id=play.pk, reason="Nothing")

    assert PlayOverride.objects.count() == 0
    play.refresh_from_db()
    assert (play.track_id, play.duration_seconds, play.avg_confidence) == (
        parties.track.pk,
        Decimal("180.00"),
        0.9,
    )
