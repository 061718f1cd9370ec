"""Splits: exactly 100 %, versioned, and read back as they were at the time of a play."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from artists.tests.factories import ArtistFactory, PublisherFactory
from conftest import make_user
from tracks import services
from tracks.models import SplitVersion, TrackSplit
from tracks.selectors import SplitShare, splits_at
from tracks.services import ShareInput
from tracks.tests.factories import TrackFactory
from users.models import AuditLog
from zamio.errors import Forbidden, ValidationFailed

pytestmark = pytest.mark.django_db


@pytest.fixture
def track():
    return TrackFactory(primary_artist=ArtistFactory(user=make_user("artist")))


@pytest.mark.parametrize("points", [(5000, 4999), (5000, 5001), (10000, 1), (9999,)])
def test_splits_not_totalling_10000_are_refused_and_nothing_is_written(track, points):
    shares = [
        ShareInput(name=f"Writer {i}", role="composer", basis_points=bp)
        for i, bp in enumerate(points)
    ]
    with pytest.raises(ValidationFailed) as refused:
        services.splits_set(actor=track.primary_artist.user, track=track, shares=shares)
    assert refused.value.code == "splits_total"
    assert refused.value.details == {"shares": [f"Total is {sum(points)} bp; it must be 10000 bp."]}
    assert SplitVersion.objects.count() == 0
    assert TrackSplit.objects.count() == 0


@pytest.mark.parametrize(
    ("share", "message"),
    [
        (ShareInput(name="X", role="drummer", basis_points=10000), "unknown role"),
        (ShareInput(name="X", role="composer", basis_points=0), "basis points"),
        (ShareInput(name="", role="composer", basis_points=10000), "name is required"),
        (ShareInput(name="X", role="composer", basis_points=10000, artist_id=999999), "no artist"),
        (ShareInput(name="X", role="composer", basis_points=10000, ipi="12"), "IPI"),
    ],
)
def test_bad_shares_are_refused(track, share, message):
    with pytest.raises(ValidationFailed) as refused:
        services.splits_set(actor=track.primary_artist.user, track=track, shares=[share])
    assert message in refused.value.details["shares"][0]
    assert SplitVersion.objects.count() == 0


def test_the_same_person_in_the_same_role_twice_is_refused(track):
    shares = [
        ShareInput(name="Ama", role="composer", basis_points=5000),
        ShareInput(name="ama", role="composer", basis_points=5000),
    ]
    with pytest.raises(ValidationFailed):
        services.splits_set(actor=track.primary_artist.user, track=track, shares=shares)


def test_only_owners_set_splits(track):
    with pytest.raises(Forbidden):
        services.splits_set(
            actor=make_user("artist"),
            track=track,
            shares=[ShareInput(name="Me", role="composer", basis_points=10000)],
        )
    assert SplitVersion.objects.count() == 0


def test_split_versioning_keeps_old_splits_for_old_plays(track):
    owner = track.primary_artist
    publisher = PublisherFactory(user=make_user("publisher"), ipi_number="123456789")
    v1 = services.splits_set(
        actor=owner.user,
        track=track,
        shares=[
            ShareInput(name="", role="performer", basis_points=7000, artist_id=owner.pk),
            ShareInput(name="Kofi Writer", role="composer", basis_points=3000, ipi="00987654321"),
        ],
    )
    play_under_v1 = timezone.now()
    v2 = services.splits_set(
        actor=owner.user,
        track=track,
        shares=[
            ShareInput(name="", role="performer", basis_points=5000, artist_id=owner.pk),
            ShareInput(name="Kofi Writer", role="composer", basis_points=2500, ipi="00987654321"),
            ShareInput(name="", role="publisher", basis_points=2500, publisher_id=publisher.pk),
        ],
        note="Publisher joined",
    )
    play_under_v2 = timezone.now()
    assert (v1.number, v2.number) == (1, 2)

    old = splits_at(track_id=track.pk, at=play_under_v1)
    new = splits_at(track_id=track.pk, at=play_under_v2)
    owner_contributor = TrackSplit.objects.get(version=v1, role="performer").contributor
    writer = TrackSplit.objects.get(version=v1, role="composer").contributor
    assert sorted(old, key=lambda s: s.role) == [
        SplitShare(writer.pk, "Kofi Writer", "composer", 3000, None, None, None, "00987654321"),
        SplitShare(
            owner_contributor.pk,
            owner.stage_name,
            "performer",
            7000,
            owner.pk,
            None,
            owner.user_id,
            "",
        ),
    ]
    assert sum(s.basis_points for s in new) == 10000
    publisher_share = next(s for s in new if s.role == "publisher")
    assert (publisher_share.publisher_id, publisher_share.user_id, publisher_share.ipi) == (
        publisher.pk,
        publisher.user_id,
        "123456789",
    )
    # The same people are the same contributors across versions.
    assert next(s for s in new if s.role == "composer").contributor_id == writer.pk
    # Before the first version there were no splits.
    assert splits_at(track_id=track.pk, at=v1.effective_from - timedelta(seconds=1)) == []
    assert AuditLog.objects.filter(action="track.splits_set").count() == 2


def test_the_database_refuses_a_version_whose_shares_do_not_total_10000(track):
    owner = track.primary_artist
    version = services.splits_set(
        actor=owner.user,
        track=track,
        shares=[
            ShareInput(name="A", role="composer", basis_points=6000),
            ShareInput(name="B", role="lyricist", basis_points=4000),
        ],
    )
    share = version.shares.get(basis_points=4000)
    # The trigger is deferred to commit; make it fire now inside the test's transaction.
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        TrackSplit.objects.filter(pk=share.pk).update(basis_points=3000)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    assert version.shares.get(pk=share.pk).basis_points == 4000
