"""Support and finance staff use Django admin within their duties; nobody else gets in."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("staff_role", "path", "status"),
    [
        ("finance", "/admin/wallets/withdrawal/", 200),
        ("finance", "/admin/royalties/rateperiod/", 404),  # no such model: guards the table
        ("finance", "/admin/tracks/track/", 200),
        ("finance", "/admin/stations/station/add/", 403),
        ("support", "/admin/stations/station/add/", 200),
        ("support", "/admin/wallets/withdrawal/", 200),
        ("support", "/admin/users/user/add/", 403),
    ],
)
def test_staff_roles_reach_the_admin_of_their_duties(
    client, user_factory, staff_role, path, status
):
    client.force_login(user_factory("admin", staff_role=staff_role))

    assert client.get(path).status_code == status


def test_no_staff_role_may_delete(user_factory):
    for staff_role in ("support", "finance"):
        user = user_factory("admin", staff_role=staff_role)
        assert not user.has_perm("wallets.delete_withdrawal")
        assert not user.has_perm("tracks.delete_track")
        assert user.has_perm("tracks.view_track")
    assert user_factory("admin", staff_role="finance").has_perm("wallets.change_withdrawal")
    assert not user_factory("admin", staff_role="support").has_perm("wallets.change_withdrawal")


@pytest.mark.parametrize("role", ["artist", "publisher", "station"])
def test_non_staff_accounts_get_no_admin(client, user_factory, role):
    user = user_factory(role)
    client.force_login(user)

    assert client.get("/admin/").status_code == 302
    assert user.get_all_permissions() == set()
