"""Payout destinations (read by wallets) and publisher routing (read by royalties)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from artists import selectors, services
from artists.models import (
    Artist,
    KycSubmission,
    PayoutDetails,
    PublisherArtistRelationship,
)
from artists.tests.conftest import last_sms_code
from artists.tests.factories import ArtistFactory, PayoutDetailsFactory, PublisherFactory
from conftest import make_user
from users.models import AuditLog, OtpPurpose
from users.services import otp_request
from zamio.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed

pytestmark = pytest.mark.django_db


def _otp(user, django_capture_on_commit_callbacks) -> str:
    with django_capture_on_commit_callbacks(execute=True):
        otp_request(user=user, purpose=OtpPurpose.PAYOUT_DETAILS)
    return last_sms_code()


def test_payout_destination_is_none_without_details(artist):
    assert selectors.payout_destination_for(user=artist.user) is None


def test_payout_destination_reports_kyc_state(artist):
    details = PayoutDetailsFactory(user=artist.user, msisdn="233241234567", network="mtn")
    destination = selectors.payout_destination_for(user=artist.user)
    assert destination.kyc_status == "not_submitted"
    assert destination.kyc_approved is False
    assert (destination.msisdn, destination.network) == ("233241234567", "mtn")
    assert destination.changed_at == details.changed_at

    KycSubmission.objects.create(user=artist.user, id_type="passport", id_number="G1234567")
    assert selectors.payout_destination_for(user=artist.user).kyc_status == "submitted"
    KycSubmission.objects.filter(user=artist.user).update(status="approved")
    destination = selectors.payout_destination_for(user=artist.user)
    assert (destination.kyc_status, destination.kyc_approved) == ("approved", True)


def test_payout_destination_is_none_for_stations():
    station = make_user("station")
    PayoutDetailsFactory(user=station)
    assert selectors.payout_destination_for(user=station) is None


def test_payout_details_set_needs_the_sms_code(artist, django_capture_on_commit_callbacks):
    artist.user.phone = "+233201111111"
    artist.user.save()
    _otp(artist.user, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationFailed) as wrong:
        services.payout_details_set(
            user=artist.user, msisdn="0241234567", network="mtn", otp_code="000000"
        )
    assert wrong.value.code in ("otp_wrong", "otp_expired")
    assert PayoutDetails.objects.count() == 0


def test_payout_details_set_normalises_audits_and_restarts_cooling_off(
    artist, django_capture_on_commit_callbacks
):
    artist.user.phone = "+233201111111"
    artist.user.save()
    code = _otp(artist.user, django_capture_on_commit_callbacks)
    details = services.payout_details_set(
        user=artist.user, msisdn="024 123 4567", network="mtn", otp_code=code
    )
    assert details.msisdn == "233241234567"
    first_change = details.changed_at

    # Same number again (new name only): the cooling-off does not restart.
    code = _otp(artist.user, django_capture_on_commit_callbacks)
    details = services.payout_details_set(
        user=artist.user, msisdn="+233241234567", network="mtn", otp_code=code, account_name="K"
    )
    assert details.changed_at == first_change

    code = _otp(artist.user, django_capture_on_commit_callbacks)
    details = services.payout_details_set(
        user=artist.user, msisdn="0501234567", network="telecel", otp_code=code
    )
    assert details.msisdn == "233501234567"
    assert details.changed_at > first_change
    assert selectors.payout_destination_for(user=artist.user).network == "telecel"
    audits = AuditLog.objects.filter(action="payout_details.set").order_by("id")
    assert audits.count() == 3
    assert audits.last().before["msisdn"] == "233241234567"
    assert audits.last().after["msisdn"] == "233501234567"


@pytest.mark.parametrize("number", ["12345", "02412345678", "+2332412345", "abc", ""])
def test_msisdn_normalise_refuses_bad_numbers(number):
    with pytest.raises(ValidationFailed):
        services.msisdn_normalise(number)


# --- Publisher relationships -------------------------------------------------------
def _deal(artist, publisher, *, share_bp=2500, start=None) -> PublisherArtistRelationship:
    return services.relationship_propose(
        actor=publisher.user,
        artist=artist,
        kind="administration",
        share_bp=share_bp,
        start_date=start or timezone.localdate() - timedelta(days=30),
    )


def test_relationship_proposed_by_one_side_accepted_by_the_other(artist, publisher):
    deal = _deal(artist, publisher)
    assert deal.status == "pending"
    assert Artist.objects.get(pk=artist.pk).self_published is True
    with pytest.raises(Forbidden):
        services.relationship_accept(actor=publisher.user, relationship=deal)
    with pytest.raises(Forbidden):
        services.relationship_accept(actor=make_user("artist"), relationship=deal)

    deal = services.relationship_accept(actor=artist.user, relationship=deal)
    assert deal.status == "active"
    assert Artist.objects.get(pk=artist.pk).self_published is False
    assert (
        AuditLog.objects.filter(action="relationship.active", target_id=str(deal.pk)).count() == 1
    )
    with pytest.raises(InvalidTransition):
        services.relationship_accept(actor=artist.user, relationship=deal)


def test_only_one_live_publisher_per_artist(artist, publisher):
    services.relationship_accept(actor=artist.user, relationship=_deal(artist, publisher))
    other = PublisherFactory(user=make_user("publisher"))
    second = _deal(artist, other)
    with pytest.raises(Conflict):
        services.relationship_accept(actor=artist.user, relationship=second)
    assert PublisherArtistRelationship.objects.get(pk=second.pk).status == "pending"


def test_share_out_of_range_refused(artist, publisher):
    with pytest.raises(ValidationFailed):
        _deal(artist, publisher, share_bp=10001)
    assert PublisherArtistRelationship.objects.count() == 0


def test_active_publisher_share_follows_the_status_history(artist, publisher):
    staff = make_user("admin", staff_role="support")
    deal = _deal(artist, publisher, share_bp=3000)
    before_accept = timezone.now()
    assert selectors.active_publisher_share(artist_id=artist.pk, at=before_accept) is None

    services.relationship_accept(actor=artist.user, relationship=deal)
    during = timezone.now()
    assert selectors.active_publisher_share(artist_id=artist.pk, at=during) == (publisher.pk, 3000)

    services.relationship_suspend(actor=staff, relationship=deal, reason="Disputed contract")
    suspended = timezone.now()
    assert selectors.active_publisher_share(artist_id=artist.pk, at=suspended) is None
    services.relationship_reinstate(actor=staff, relationship=deal)
    services.relationship_terminate(actor=artist.user, relationship=deal, reason="Contract ended")
    after = timezone.now()

    # The past keeps its answer after the deal ends.
    assert selectors.active_publisher_share(artist_id=artist.pk, at=during) == (publisher.pk, 3000)
    assert selectors.active_publisher_share(artist_id=artist.pk, at=suspended) is None
    assert selectors.active_publisher_share(artist_id=artist.pk, at=before_accept) is None
    assert selectors.active_publisher_share(artist_id=artist.pk, at=after) is None
    assert Artist.objects.get(pk=artist.pk).self_published is True


def test_active_publisher_share_respects_the_start_date(artist, publisher):
    future = timezone.localdate() + timedelta(days=10)
    deal = _deal(artist, publisher, start=future)
    services.relationship_accept(actor=artist.user, relationship=deal)
    assert selectors.active_publisher_share(artist_id=artist.pk, at=timezone.now()) is None
    later = timezone.now() + timedelta(days=11)
    assert selectors.active_publisher_share(artist_id=artist.pk, at=later) == (publisher.pk, 2500)


def test_artist_get_or_create_by_name_is_case_insensitive():
    first = services.artist_get_or_create_by_name(stage_name="Sarkodie")
    again = services.artist_get_or_create_by_name(stage_name="  sarkodie ")
    assert first.pk == again.pk
    assert (first.user, first.country, first.pro_affiliation) == (None, "GH", "GHAMRO")


def test_artist_profile_defaults_to_ghamro_and_self_published():
    user = make_user("artist")
    artist = services.artist_profile_create(
        user=user, stage_name="Efya", ipi_number="00123.456.789"
    )
    assert (artist.pro_affiliation, artist.self_published, artist.ipi_number) == (
        "GHAMRO",
        True,
        "00123456789",
    )
    abroad = services.artist_profile_create(
        user=make_user("artist"), stage_name="Nigerian", country="ng"
    )
    assert (abroad.country, abroad.pro_affiliation) == ("NG", "")
    with pytest.raises(Conflict):
        services.artist_profile_create(user=user, stage_name="Again")


def test_publisher_proposal_to_unrelated_dates():
    artist = ArtistFactory(user=make_user("artist"))
    publisher = PublisherFactory(user=make_user("publisher"))
    with pytest.raises(ValidationFailed):
        services.relationship_propose(
            actor=publisher.user,
            artist=artist,
            kind="exclusive",
            share_bp=5000,
            start_date=date(2026, 5, 1),
            end_date=date(2026, 4, 1),
        )
