"""Station services: who may change what, normalisation, uniqueness, audit."""

from __future__ import annotations

import pytest

from conftest import make_user
from stations import selectors, services
from stations.models import Station, StationStaff, StationStaffRole, StreamLink
from stations.tests.factories import StationFactory, StationStaffFactory, StreamLinkFactory
from users.models import AuditLog
from zamio.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed

pytestmark = pytest.mark.django_db


def test_station_account_registers_its_station_and_becomes_manager():
    user = make_user("station")

    station = services.station_create(
        actor=user,
        name="  Joy   FM ",
        station_class="A",
        frequency="99.7 fm",
        city="Accra",
        country="gh",
        contact_email="Desk@JoyOnline.example",
    )

    assert (station.name, station.slug, station.frequency, station.country) == (
        "Joy FM",
        "joy-fm",
        "99.7 FM",
        "GH",
    )
    assert station.contact_email == "desk@joyonline.example"
    assert (station.timezone, station.sample_seconds, station.sample_interval_seconds) == (
        "Africa/Accra",
        20,
        60,
    )
    assert station.monitoring_enabled is False and station.is_verified is False
    member = StationStaff.objects.get(user=user)
    assert (member.station_id, member.role) == (station.pk, StationStaffRole.MANAGER)
    assert selectors.station_ids_for_user(user=user) == [station.pk]
    assert AuditLog.objects.filter(action="station.create", target_id=str(station.pk)).count() == 1


def test_slug_is_made_unique():
    StationFactory(slug="joy-fm")
    station = services.station_create(
        actor=make_user("admin", staff_role="support"), name="Joy FM", station_class="B"
    )
    assert station.slug == "joy-fm-2"


def test_a_station_account_registers_one_station_only(station, manager):
    with pytest.raises(Conflict):
        services.station_create(actor=manager, name="Second FM", station_class="C")
    assert Station.objects.count() == 1


def test_station_accounts_cannot_set_sampling_or_register_for_artists():
    with pytest.raises(Forbidden):
        services.station_create(
            actor=make_user("station"), name="X FM", station_class="C", sample_seconds=60
        )
    with pytest.raises(Forbidden):
        services.station_create(actor=make_user("artist"), name="Y FM", station_class="C")
    assert Station.objects.count() == 0


def test_same_frequency_in_same_city_is_a_conflict(support):
    services.station_create(
        actor=support, name="A", station_class="A", frequency="99.7 FM", city="Accra"
    )
    with pytest.raises(Conflict) as caught:
        services.station_create(
            actor=support, name="B", station_class="A", frequency="99.7 fm", city="Accra"
        )
    assert caught.value.details == {"frequency": ["Already registered in this city."]}
    # Another city may use the same frequency.
    services.station_create(
        actor=support, name="C", station_class="A", frequency="99.7 FM", city="Kumasi"
    )
    assert Station.objects.count() == 2


def test_same_licence_in_same_country_is_a_conflict(support):
    """A licence number is the regulator's, so it is unique within a country only."""
    for name, country in (("A", "GH"), ("B", "NG")):
        services.station_create(
            actor=support, name=name, station_class="A", country=country, licence_number="L-1"
        )
    with pytest.raises(Conflict) as caught:
        services.station_create(
            actor=support, name="C", station_class="B", country="GH", licence_number="L-1"
        )
    assert caught.value.details == {"licence_number": ["Already registered."]}
    assert sorted(Station.objects.values_list("name", flat=True)) == ["A", "B"]


@pytest.mark.parametrize(
    ("second", "details"),
    [
        (
            {"city": "Accra", "frequency": "99.7 FM"},
            {"frequency": ["Already registered in this city."]},
        ),
        ({"licence_number": "NCA-1"}, {"licence_number": ["Already registered."]}),
    ],
)
def test_sqlites_duplicate_errors_are_the_same_conflicts(second, details):
    """The demo runs on SQLite, whose message for a broken unique constraint lists the
    constraint's columns instead of naming it: the same 409s, not a server error. The
    error is SQLite's own, from Station's table built by Django in a SQLite database."""
    from django.db import IntegrityError
    from django.db.models.sql import InsertQuery
    from django.db.utils import ConnectionHandler

    sqlite = ConnectionHandler(
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    )["default"]
    models, pending = [], [Station]
    while pending:  # Station and the tables its foreign keys name
        model = pending.pop()
        if model not in models:
            models.append(model)
            pending += [f.remote_field.model for f in model._meta.concrete_fields if f.remote_field]
    with sqlite.schema_editor() as editor:
        for model in models:
            editor.create_model(model)

    def insert(**values):
        query = InsertQuery(Station)
        query.insert_values(
            [f for f in Station._meta.concrete_fields if not f.primary_key], [Station(**values)]
        )
        query.get_compiler(connection=sqlite).execute_sql()

    insert(
        name="A", slug="a", country="GH", city="Accra", frequency="99.7 FM", licence_number="NCA-1"
    )
    try:
        with pytest.raises(IntegrityError) as caught:
            insert(name="B", slug="b", country="GH", **second)
    finally:
        sqlite.close()
    assert "station_unique" not in str(caught.value)  # (PostgreSQL's would name it)
    assert services._conflict_from(caught.value).details == details


def test_bad_timezone_country_and_sampling_are_refused(support, station):
    with pytest.raises(ValidationFailed) as caught:
        services.station_update(actor=support, station=station, timezone="Mars/Olympus")
    assert list(caught.value.details) == ["timezone"]
    with pytest.raises(ValidationFailed):
        services.station_update(actor=support, station=station, country="GHA")
    with pytest.raises(ValidationFailed) as caught:
        services.station_update(
            actor=support, station=station, sample_seconds=30, sample_interval_seconds=20
        )
    assert list(caught.value.details) == ["sample_interval_seconds"]
    station.refresh_from_db()
    assert (station.timezone, station.country, station.sample_seconds) == ("Africa/Accra", "GH", 20)


def test_manager_edits_identity_until_verified_then_only_staff(station, manager, support):
    services.station_update(actor=manager, station=station, station_class="A", city="Tema")
    services.station_verify(actor=support, station=station)

    with pytest.raises(Forbidden) as caught:
        services.station_update(
            actor=manager, station=station, station_class="C", contact_name="Ama"
        )
    assert list(caught.value.details) == ["station_class"]
    station.refresh_from_db()
    assert (station.station_class, station.contact_name) == ("A", "")

    services.station_update(actor=manager, station=station, contact_name="Ama", city="Accra")
    services.station_update(actor=support, station=station, station_class="C", sample_seconds=30)
    station.refresh_from_db()
    assert (station.contact_name, station.city, station.station_class, station.sample_seconds) == (
        "Ama",
        "Accra",
        "C",
        30,
    )
    log = AuditLog.objects.filter(action="station.update").order_by("id").last()
    assert (log.before["station_class"], log.after["station_class"]) == ("A", "C")


def test_verify_is_for_support_staff_and_happens_once(station, manager, finance, support):
    for actor in (manager, finance):
        with pytest.raises(Forbidden):
            services.station_verify(actor=actor, station=station)
    station.refresh_from_db()
    assert station.is_verified is False

    services.station_verify(actor=support, station=station)
    station.refresh_from_db()
    assert (station.is_verified, station.verified_by_id) == (True, support.pk)
    assert station.verified_at is not None
    with pytest.raises(InvalidTransition):
        services.station_verify(actor=support, station=station)

    services.station_unverify(actor=support, station=station)
    station.refresh_from_db()
    assert (station.is_verified, station.verified_at, station.verified_by_id) == (False, None, None)
    assert list(
        AuditLog.objects.filter(target_id=str(station.pk))
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["station.verify", "station.unverify"]


def test_monitoring_switch_is_staff_only_and_audited_once_per_change(station, manager, support):
    with pytest.raises(Forbidden):
        services.station_set_monitoring(actor=manager, station=station, enabled=True)
    services.station_set_monitoring(actor=support, station=station, enabled=True)
    services.station_set_monitoring(actor=support, station=station, enabled=True)
    station.refresh_from_db()
    assert station.monitoring_enabled is True
    assert AuditLog.objects.filter(action="station.monitoring_enable").count() == 1


def test_members_keep_one_manager(station, manager):
    colleague = make_user("station", email="colleague@radio.example")
    member = services.station_member_add(
        actor=manager, station=station, email="COLLEAGUE@radio.example", role="staff"
    )
    assert member.user_id == colleague.pk

    only_manager = StationStaff.objects.get(user=manager)
    with pytest.raises(Conflict):
        services.station_member_remove(actor=manager, member=only_manager)
    with pytest.raises(Conflict):
        services.station_member_set_role(actor=manager, member=only_manager, role="staff")

    services.station_member_set_role(actor=manager, member=member, role="manager")
    services.station_member_remove(actor=manager, member=only_manager)
    assert list(StationStaff.objects.values_list("user_id", "role")) == [(colleague.pk, "manager")]


def test_members_must_be_free_station_accounts(station, manager, other_manager):
    make_user("artist", email="artist@example.test")
    with pytest.raises(ValidationFailed):
        services.station_member_add(
            actor=manager, station=station, email="artist@example.test", role="staff"
        )
    with pytest.raises(ValidationFailed):
        services.station_member_add(
            actor=manager, station=station, email="nobody@example.test", role="staff"
        )
    with pytest.raises(Conflict):
        services.station_member_add(
            actor=manager, station=station, email=other_manager.email, role="staff"
        )
    assert StationStaff.objects.filter(station=station).count() == 1


def test_stream_link_url_is_checked_normalised_and_unique(
    station, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        link = services.stream_link_create(
            actor=manager, station=station, url=" HTTP://8.8.8.8:8000/Live#frag ", kind="primary"
        )
    assert (link.url, link.enabled, link.created_by_id) == (
        "http://8.8.8.8:8000/Live",
        True,
        manager.pk,
    )
    assert len(callbacks) == 1  # the first test capture, queued on commit

    with pytest.raises(Conflict):
        services.stream_link_create(actor=manager, station=station, url="http://8.8.8.8:8000/Live")
    for bad in (
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/",
    ):
        with pytest.raises(ValidationFailed) as caught:
            services.stream_link_create(actor=manager, station=station, url=bad)
        assert caught.value.code == "unsafe_stream_url"
    assert StreamLink.objects.count() == 1


def test_stream_link_update_rechecks_url_and_enable_is_staff_only(station, manager, support):
    link = StreamLinkFactory(station=station)
    with pytest.raises(ValidationFailed):
        services.stream_link_update(actor=manager, link=link, url="http://192.168.1.10/live")
    services.stream_link_update(actor=manager, link=link, kind="backup", priority=3)
    with pytest.raises(Forbidden):
        services.stream_link_set_enabled(actor=manager, link=link, enabled=False)
    services.stream_link_set_enabled(actor=support, link=link, enabled=False)
    link.refresh_from_db()
    assert (link.kind, link.priority, link.enabled, link.url.startswith("http://203.0.114.")) == (
        "backup",
        3,
        False,
        True,
    )
    assert (
        AuditLog.objects.filter(action="stream_link.disable", target_id=str(link.pk)).count() == 1
    )


def test_station_staff_users_lists_active_members_only(station):
    active = StationStaffFactory(station=station).user
    inactive = StationStaffFactory(station=station, role="staff").user
    inactive.is_active = False
    inactive.save()
    StationStaffFactory()  # another station's manager
    assert list(selectors.station_staff_users(station_id=station.pk)) == [active]


def test_visibility_by_role(station, manager, other_station, support):
    artist = make_user("artist")
    assert set(selectors.stations_visible_to(user=support)) == {station, other_station}
    assert list(selectors.stations_visible_to(user=manager)) == [station]
    assert set(selectors.stations_visible_to(user=artist)) == {station, other_station}
    assert selectors.station_full_access(user=artist, station=station) is False
    assert selectors.station_full_access(user=manager, station=other_station) is False
    assert selectors.station_full_access(user=manager, station=station) is True
    assert list(selectors.stations_editable_by(user=artist)) == []
    assert selectors.station_ids_for_user(user=artist) == []
