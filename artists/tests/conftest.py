from __future__ import annotations

import pytest

from artists.tests.factories import ArtistFactory, PublisherFactory
from conftest import make_user


@pytest.fixture
def artist(db):
    """An artist with a login and a profile."""
    return ArtistFactory(user=make_user("artist"))


@pytest.fixture
def publisher(db):
    return PublisherFactory(user=make_user("publisher"))


@pytest.fixture
def support(db):
    return make_user("admin", staff_role="support")


def last_sms_code() -> str:
    import re

    from notifications import sms

    return re.search(r"\b(\d{6})\b", sms.outbox[-1].body).group(1)
