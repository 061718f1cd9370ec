from __future__ import annotations

import pytest

from conftest import make_user
from stations.tests.factories import StationFactory, StationStaffFactory


@pytest.fixture
def support(db):
    return make_user("admin", staff_role="support")


@pytest.fixture
def finance(db):
    return make_user("admin", staff_role="finance")


@pytest.fixture
def station(db):
    return StationFactory()


@pytest.fixture
def manager(station):
    """A station account managing `station`."""
    return StationStaffFactory(station=station).user


@pytest.fixture
def other_station(db):
    return StationFactory()


@pytest.fixture
def other_manager(other_station):
    return StationStaffFactory(station=other_station).user
