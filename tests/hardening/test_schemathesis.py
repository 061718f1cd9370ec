"""Schemathesis against our OpenAPI document, in-process over WSGI: for every operation,
generated requests (as a staff superadmin and as an artist, over a populated world) never
get a 5xx, and every response - status code, content type and body - is what the schema
says.

Bounded: SCHEMATHESIS_MAX_EXAMPLES generated cases per operation and user (default 6),
derandomised so a failure reproduces. Each case runs in a savepoint that is rolled back,
so every case meets the same world.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import transaction
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.hardening.world import build_world

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "6"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def wsgi_app():
    """The project's WSGI app, kept off the signal that closes the database connection at the
    end of each request (as Django's test client does): the test's transaction must live."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _run_operation(operation, headers: dict, checks, failures: dict, counter: list) -> None:
    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        cache.clear()  # throttles would answer 429 after a few hundred cases
        counter[0] += 1
        with transaction.atomic():
            try:
                response = case.call(headers=headers)
                case.validate_response(response, checks=checks)
            except (AssertionError, FailureGroup) as exc:  # one report for all operations
                failures.setdefault(case.operation.label, str(exc)[:1500])
            finally:
                transaction.set_rollback(True)

    run()


@pytest.mark.django_db
def test_api_matches_its_schema_and_never_answers_5xx(settings, wsgi_app):
    from users.services import tokens_for_user

    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    world = build_world()
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    checks = CHECKS
    users = {"superadmin": world.superadmin, "artist": world.a.artist_user}
    failures: dict[str, str] = {}
    counter = [0]
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for user in users.values():
            headers = {"Authorization": f"Bearer {tokens_for_user(user)['access']}"}
            _run_operation(operation, headers, checks, failures, counter)

    report = os.environ.get("HARDENING_REPORT")
    if report:
        with open(report, "w") as out:
            json.dump({"operations": operations, "cases": counter[0], "failures": failures}, out)
    assert failures == {}
    assert operations >= 130
    assert counter[0] >= operations * len(users)
