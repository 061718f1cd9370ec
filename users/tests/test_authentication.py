"""The API's JWT authentication reads the user itself; it must refuse what simplejwt refuses."""

from __future__ import annotations

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from users.models import User
from users.selectors import user_by_id
from users.services import tokens_for_user

pytestmark = pytest.mark.django_db


def _me(api_client, access: str):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return api_client.get("/api/v1/auth/me/")


def test_user_by_id_reads_every_field_as_the_orm_does(user_factory):
    user = user_factory("station", email="kofi@example.test", phone="+233201234567")

    read = user_by_id(user_id=user.pk)
    expected = User.objects.get(pk=user.pk)

    assert type(read) is User
    for field in User._meta.concrete_fields:
        assert getattr(read, field.attname) == getattr(expected, field.attname), field.name
    assert (read._state.adding, read._state.db) == (False, "default")
    read.full_name = "Kofi Boateng"
    read.save(update_fields=["full_name"])  # a loaded instance saves as the ORM's would
    assert User.objects.get(pk=user.pk).full_name == "Kofi Boateng"
    assert user_by_id(user_id=user.pk + 1000) is None


def test_a_valid_token_authenticates_its_user(api_client, user_factory):
    user = user_factory("artist", email="ama@example.test")

    response = _me(api_client, tokens_for_user(user)["access"])

    assert response.status_code == 200
    assert response.json()["email"] == "ama@example.test"


def test_a_deactivated_account_is_refused_at_once(api_client, user_factory):
    user = user_factory("artist")
    access = tokens_for_user(user)["access"]
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = _me(api_client, access)

    assert response.status_code == 401
    assert "error" in response.json()


def test_a_deleted_account_is_refused(api_client, user_factory):
    user = user_factory("artist")
    access = tokens_for_user(user)["access"]
    User.objects.filter(pk=user.pk).delete()

    response = _me(api_client, access)

    assert response.status_code == 401
    assert "error" in response.json()


@pytest.mark.parametrize("user_id", ["not-a-number", None, "7.5"])
def test_a_signed_token_without_a_user_id_number_is_refused(api_client, user_factory, user_id):
    user = user_factory("artist")
    token = AccessToken.for_user(user)
    if user_id is None:
        del token.payload["user_id"]
    else:
        token["user_id"] = user_id

    response = _me(api_client, str(token))

    assert response.status_code == 401
    assert "error" in response.json()
