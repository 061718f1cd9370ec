"""Play reports: de-duplication, replays, guests without stored identity, limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from streaming.identity import client_hash
from streaming.models import PlayEvent
from streaming.services import play_record
from tracks.models import TrackStatus
from tracks.tests.factories import TrackFactory
from zamio.errors import NotFound, ValidationFailed

pytestmark = pytest.mark.django_db

GUEST = "install-7f3a9c2e"


def _play(track, *, start, seconds=120, outcome="stopped", user=None, client_id=GUEST, **extra):
    return play_record(
        track_id=track.pk,
        user=user,
        client_id=client_id,
        started_at=start,
        seconds_listened=seconds,
        outcome=outcome,
        device="android",
        **extra,
    )


def test_guest_play_is_stored_under_a_keyed_hash_only(track):
    start = timezone.now() - timedelta(minutes=5)

    result = _play(track, start=start, country="gh", region=" Ashanti ")

    event = result.event
    assert result.created is True
    assert event.listener_key == f"g:{client_hash(GUEST)}"
    assert event.client_hash == client_hash(GUEST) and len(event.client_hash) == 64
    assert GUEST not in event.listener_key
    assert (event.country, event.region, event.counted, event.is_replay) == (
        "GH",
        "Ashanti",
        True,
        False,
    )
    # No field of a play can hold an address.
    assert not {"ip", "ip_address", "remote_addr"} & {f.name for f in PlayEvent._meta.fields}


def test_same_play_reported_again_is_merged_not_counted_twice(track):
    start = timezone.now() - timedelta(minutes=5)
    _play(track, start=start, seconds=20, outcome="stopped")

    again = _play(track, start=start, seconds=200, outcome="completed")
    refreshed = _play(track, start=start + timedelta(seconds=12), seconds=5, outcome="skipped")

    assert again.created is False and refreshed.created is False
    event = PlayEvent.objects.get()
    assert (event.seconds_listened, event.outcome, event.counted, event.reports) == (
        200,
        "completed",
        True,
        3,
    )


def test_restart_while_the_track_was_still_playing_is_the_same_play(track):
    start = timezone.now() - timedelta(minutes=10)
    _play(track, start=start, seconds=150, outcome="stopped")

    overlapping = _play(track, start=start + timedelta(seconds=100), seconds=60)

    assert overlapping.created is False
    assert PlayEvent.objects.count() == 1


def test_playing_again_after_it_ended_is_a_replay(track):
    start = timezone.now() - timedelta(minutes=10)
    _play(track, start=start, seconds=200, outcome="completed")

    replay = _play(track, start=start + timedelta(seconds=230), seconds=200, outcome="completed")

    assert replay.created is True
    assert replay.event.is_replay is True
    assert PlayEvent.objects.filter(is_replay=False).count() == 1


def test_signed_in_fan_is_one_listener_across_devices(track, user_factory):
    fan = user_factory("artist")
    start = timezone.now() - timedelta(minutes=5)

    _play(track, start=start, user=fan, client_id="phone-0001")
    laptop = _play(track, start=start + timedelta(seconds=3), user=fan, client_id="laptop-0001")
    other_guest = _play(track, start=start, client_id="another-guest")

    assert laptop.created is False
    assert other_guest.created is True
    assert set(PlayEvent.objects.values_list("listener_key", flat=True)) == {
        f"u:{fan.pk}",
        f"g:{client_hash('another-guest')}",
    }


def test_skips_and_short_plays_are_not_counted(track):
    now = timezone.now()

    skipped = _play(track, start=now - timedelta(minutes=30), seconds=45, outcome="skipped")
    short = _play(track, start=now - timedelta(minutes=20), seconds=29, outcome="stopped")
    enough = _play(track, start=now - timedelta(minutes=10), seconds=30, outcome="stopped")

    assert [skipped.event.counted, short.event.counted, enough.event.counted] == [
        False,
        False,
        True,
    ]


def test_seconds_are_capped_at_the_track_length(track):
    result = _play(track, start=timezone.now() - timedelta(minutes=30), seconds=900)
    assert result.event.seconds_listened == 200


@pytest.mark.parametrize(
    ("offset", "seconds", "field"),
    [
        (timedelta(minutes=10), 10, "started_at"),  # starts in the future
        (-timedelta(days=4), 10, "started_at"),  # too old
        (-timedelta(seconds=60), 180, "seconds_listened"),  # more than has passed
    ],
)
def test_impossible_times_are_refused(settings, track, offset, seconds, field):
    settings.STREAMING_CLOCK_SKEW_SECONDS = 10
    with pytest.raises(ValidationFailed) as refused:
        _play(track, start=timezone.now() + offset, seconds=seconds)

    assert list(refused.value.details) == [field]
    assert PlayEvent.objects.count() == 0


def test_only_approved_tracks_can_be_played():
    draft = TrackFactory(status=TrackStatus.SUBMITTED)
    with pytest.raises(NotFound):
        _play(draft, start=timezone.now() - timedelta(minutes=5))
    assert PlayEvent.objects.count() == 0


def test_guest_needs_a_client_id(track):
    with pytest.raises(ValidationFailed):
        _play(track, start=timezone.now() - timedelta(minutes=5), client_id="")
    assert PlayEvent.objects.count() == 0
