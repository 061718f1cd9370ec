"""Object-level access, walked over the whole URL conf.

For every route and every role (anonymous, artist, publisher, station, support, finance,
superadmin) the walker calls each method the view has with side "b"'s objects in the URL
while signed in as side "a" (or as staff), with a body that would be valid, and checks:

- a refused request is 401 (anonymous) or 403/404 in the error shape, and changed no row
  of any project table and no stored file;
- nobody but the owner, the few explicitly public reads (FOREIGN_ALLOWED) and the staff
  roles whose job it is (STAFF_REFUSED lists what each staff role may not do) gets past;
- lists and exports never carry the other side's private rows, whatever filter is given;
- nothing answers 5xx.

Routes are found by walking the resolver, so a new route is checked as soon as it exists:
its URL parameters must map to an object in PARAM_OBJECTS, or the route must be listed in
EXEMPT (with the reason), or the test fails. Each request runs in a savepoint that is rolled
back, so every call meets the same world.
"""

from __future__ import annotations

import json
import os

import pytest
from django.core.cache import cache
from django.db import transaction
from rest_framework.test import APIClient

from tests.hardening import snapshot
from tests.hardening.bodies import body_for, openapi_schema, operations, schema_key
from tests.hardening.routes import all_routes
from tests.hardening.world import World, build_world

ROLES = ("anonymous", "artist", "publisher", "station", "support", "finance", "superadmin")
OWNER_ROLES = ("artist", "publisher", "station")
STAFF_ROLES = ("support", "finance", "superadmin")
REFUSED = (401, 403, 404)

# URL parameter → the other side's object(s) it names, keyed by the path segment before it.
# A parameter naming something private and something public is tried with both.
PARAM_OBJECTS = {
    ("users", "pk"): [("user", lambda w, s: s.artist_user.pk)],
    ("artists", "pk"): [("artist", lambda w, s: s.artist.pk)],
    ("artists", "artist_id"): [("artist", lambda w, s: s.artist.pk)],
    ("publishers", "pk"): [("publisher", lambda w, s: s.publisher.pk)],
    ("relationships", "pk"): [("relationship", lambda w, s: s.relationship.pk)],
    ("kyc", "pk"): [("kyc", lambda w, s: s.kyc.pk)],
    ("documents", "pk"): [("kyc document", lambda w, s: s.kyc_document.pk)],
    ("tracks", "pk"): [
        ("draft track", lambda w, s: s.draft_track.pk),
        ("approved track", lambda w, s: s.track.pk),
    ],
    ("tracks", "track_id"): [
        ("draft track", lambda w, s: s.draft_track.pk),
        ("approved track", lambda w, s: s.track.pk),
    ],
    ("splits", "version_id"): [("split version", lambda w, s: s.split_version.pk)],
    ("imports", "pk"): [("track import", lambda w, s: s.track_import.pk)],
    ("stations", "pk"): [("station", lambda w, s: s.station.pk)],
    ("members", "member_pk"): [("member", lambda w, s: s.member.pk)],
    ("stream-links", "pk"): [("stream link", lambda w, s: s.stream_link.pk)],
    ("playlogs", "pk"): [("playlog", lambda w, s: s.playlog.pk)],
    ("compliance-documents", "pk"): [
        ("compliance document", lambda w, s: s.compliance_document.pk)
    ],
    ("plays", "pk"): [
        ("play", lambda w, s: s.play.pk),
        ("disputed play", lambda w, s: s.disputed_play.pk),
    ],
    ("disputes", "pk"): [("dispute", lambda w, s: s.dispute.pk)],
    ("evidence", "evidence_pk"): [("evidence", lambda w, s: s.evidence.pk)],
    ("rate-cards", "pk"): [("rate card", lambda w, s: w.rate_card.pk)],
    ("periods", "pk"): [
        ("closed period", lambda w, s: w.period.pk),
        ("open period", lambda w, s: w.open_period.pk),
    ],
    ("invoices", "pk"): [("invoice", lambda w, s: s.invoice.pk)],
    ("reports", "pk"): [("report", lambda w, s: s.report.pk)],
    ("withdrawals", "pk"): [("withdrawal", lambda w, s: s.withdrawal.pk)],
    ("notifications", "pk"): [("notification", lambda w, s: s.notifications[0].pk)],
}

# Routes the walker does not call, and why.
EXEMPT_PREFIXES = {
    "admin/": "Django admin: its own staff gate (is_staff); admin pages are tested per app",
}
EXEMPT = {
    "login/": "session sign-in form: public by design",
    "logout/": "ends the caller's own session",
    "api/schema/": "the OpenAPI document: public (SERVE_PERMISSIONS AllowAny)",
    "api/docs/": "Swagger UI for the public schema",
    "^api/": "catch-all answering unknown API paths with the 404 error shape",
    "^media/(?P<path>.*)$": "DEBUG-only static serving of public media (never private files)",
    "api/v1/health/": "liveness probe: public, reads nothing private",
    "api/v1/auth/register/": "public sign-up",
    "api/v1/auth/verify-email/": "token-authenticated by the emailed token",
    "api/v1/auth/verify-email/resend/": "public; answers the same whether the email exists",
    "api/v1/auth/login/": "public sign-in",
    "api/v1/auth/login/otp/": "second sign-in step, authenticated by the challenge",
    "api/v1/auth/token/refresh/": "authenticated by the refresh token itself",
    "api/v1/auth/logout/": "blacklists the caller's own refresh token",
    "api/v1/auth/password-reset/": "public; answers the same whether the email exists",
    "api/v1/auth/password-reset/confirm/": "authenticated by the emailed token",
    "api/v1/auth/otp/": "sends a code to the caller's own phone",
    "api/v1/auth/phone/verify/": "verifies the caller's own phone",
    "api/v1/payouts/callbacks/<str:provider>/": (
        "payment provider callbacks: authenticated by the provider's secret, not a user "
        "(wallets tests cover forged callbacks)"
    ),
    "api/v1/streaming/plays/": "fan play events: public by design, rate-limited per listener",
    "api/v1/streaming/charts/tracks/": "public chart of approved tracks",
    "api/v1/streaming/charts/artists/": "public chart of artists",
    "api/v1/tracks/import/template.csv": "a static CSV template",
}

# Writes on collection routes that only ever touch the caller's own rows (the body can name
# no one else's object); the list GETs on the same routes are walked for leaks.
SELF_SCOPED_WRITES = {
    ("api/v1/auth/me/", "patch"): "edits the caller's own account",
    ("api/v1/artists/me/", "post"): "creates the caller's own artist profile",
    ("api/v1/artists/me/", "patch"): "edits the caller's own artist profile",
    ("api/v1/publishers/me/", "post"): "creates the caller's own publisher profile",
    ("api/v1/publishers/me/", "patch"): "edits the caller's own publisher profile",
    ("api/v1/payout-details/me/", "put"): "sets the caller's own payout number (OTP-gated)",
    ("api/v1/kyc/", "post"): "submits the caller's own KYC",
    ("api/v1/tracks/", "post"): "uploads a track for an artist the caller manages",
    ("api/v1/tracks/import/", "post"): "imports tracks for artists the caller manages",
    ("api/v1/stations/", "post"): "registers a station the caller will manage",
    ("api/v1/station-uploads/", "post"): "a clip for the caller's own station",
    ("api/v1/withdrawals/", "post"): "a payout from the caller's own wallet",
    ("api/v1/notifications/read-all/", "post"): "marks the caller's own notifications read",
    ("api/v1/notifications/preferences/", "patch"): "the caller's own preferences",
    ("api/v1/notifications/unsubscribe/", "post"): "authenticated by the signed email token",
    ("api/v1/fingerprinting/identify/", "post"): "identifies a clip; stores nothing",
    ("api/v1/users/", "post"): "staff create accounts (superadmin only: STAFF_REFUSED)",
    ("api/v1/relationships/", "post"): (
        "proposes a deal as the caller's own artist or publisher profile; the other party "
        "must accept it (accept/decline are walked as owner-only)"
    ),
    ("api/v1/royalties/rate-cards/", "post"): "finance create rate cards",
}

# Collection writes whose body names the other side's objects: refused like a URL would be.
FOREIGN_WRITES = {
    ("api/v1/disputes/", "post"): lambda w, s: {
        "play": s.disputed_play.pk,
        "dispute_type": "not_aired",
        "description": "Not mine to dispute",
    },
    ("api/v1/royalties/reports/", "post"): lambda w, s: {
        "kind": "statement",
        "format": "csv",
        "period": w.period.pk,
        "subject_user": s.artist_user.pk,
    },
    ("api/v1/review-queue/decide/", "post"): lambda w, s: {
        "play_ids": [s.play.pk],
        "verification_status": "rejected",
        "note": "Not mine to decide",
    },
}

# Reads (and the one write) of another owner's object that are public by design.
FOREIGN_ALLOWED = {
    ("api/v1/stations/<int:pk>/", "get", "artist", "station"): "public station facts",
    ("api/v1/stations/<int:pk>/", "get", "publisher", "station"): "public station facts",
    **{
        ("api/v1/royalties/periods/<int:pk>/", "get", role, period): (
            "royalty months are the platform's calendar, not anyone's; non-staff see the "
            "month and its status (PeriodOutput), totals are staff-only"
        )
        for role in OWNER_ROLES
        for period in ("closed period", "open period")
    },
    ("api/v1/tracks/<int:pk>/", "get", "station", "approved track"): (
        "stations read the approved catalogue (without splits)"
    ),
    **{
        ("api/v1/streaming/tracks/<int:track_id>/like/", method, role, "approved track"): (
            "anyone may like an approved track; the like is the caller's own row"
        )
        for method in ("put", "delete")
        for role in OWNER_ROLES + STAFF_ROLES
    },
}

# What each staff role may NOT do to anyone's objects (separation of duties). Everything
# else a staff role may call; the walker then only asks for no 5xx.
_SUPPORT_ONLY = {
    ("api/v1/kyc/<int:pk>/approve/", "post"),
    ("api/v1/kyc/<int:pk>/reject/", "post"),
    ("api/v1/tracks/<int:pk>/approve/", "post"),
    ("api/v1/tracks/<int:pk>/reject/", "post"),
    ("api/v1/stations/<int:pk>/", "patch"),
    ("api/v1/stations/<int:pk>/", "delete"),
    ("api/v1/stations/<int:pk>/verify/", "post"),
    ("api/v1/stations/<int:pk>/unverify/", "post"),
    ("api/v1/stations/<int:pk>/monitoring/", "post"),
    ("api/v1/stations/<int:pk>/members/", "post"),
    ("api/v1/stations/<int:pk>/members/<int:member_pk>/", "patch"),
    ("api/v1/stations/<int:pk>/members/<int:member_pk>/", "delete"),
    ("api/v1/stations/<int:pk>/stream-links/", "post"),
    ("api/v1/stream-links/<int:pk>/", "patch"),
    ("api/v1/stream-links/<int:pk>/", "delete"),
    ("api/v1/stream-links/<int:pk>/enabled/", "post"),
    ("api/v1/stream-links/<int:pk>/check/", "post"),
    ("api/v1/stations/<int:pk>/playlogs/", "post"),
    ("api/v1/playlogs/<int:pk>/", "delete"),
    ("api/v1/stations/<int:pk>/compliance-documents/", "post"),
    ("api/v1/compliance-documents/<int:pk>/review/", "post"),
    ("api/v1/plays/<int:pk>/review/", "post"),
    ("api/v1/plays/<int:pk>/override/", "post"),
    ("api/v1/disputes/<int:pk>/review/", "post"),
}
_FINANCE_ONLY = {
    ("api/v1/royalties/rate-cards/<int:pk>/", "delete"),
    ("api/v1/royalties/periods/<int:pk>/close/", "post"),
    ("api/v1/royalties/periods/<int:pk>/mark-paid/", "post"),
    ("api/v1/royalties/invoices/<int:pk>/mark-paid/", "post"),
    ("api/v1/withdrawals/<int:pk>/approve/", "post"),
    ("api/v1/withdrawals/<int:pk>/reject/", "post"),
    ("api/v1/withdrawals/<int:pk>/recheck/", "post"),
    ("api/v1/withdrawals/<int:pk>/resolve/", "post"),
}
_SUPERADMIN_ONLY = {
    ("api/v1/users/<int:pk>/role/", "post"),
    ("api/v1/users/<int:pk>/active/", "post"),
}
_OWNER_ONLY = {
    # Only the parties to a deal answer it; only the opener withdraws a dispute; only
    # the payee cancels a withdrawal; only its reader marks a notification read.
    ("api/v1/relationships/<int:pk>/accept/", "post"),
    ("api/v1/relationships/<int:pk>/decline/", "post"),
    ("api/v1/disputes/<int:pk>/withdraw/", "post"),
    ("api/v1/withdrawals/<int:pk>/cancel/", "post"),
    ("api/v1/notifications/<int:pk>/read/", "post"),
}
STAFF_REFUSED = {
    "support": _FINANCE_ONLY | _SUPERADMIN_ONLY | _OWNER_ONLY,
    "finance": _SUPPORT_ONLY | _SUPERADMIN_ONLY | _OWNER_ONLY,
    "superadmin": _OWNER_ONLY,
}

# Body values the schema cannot say (a pattern, a value that must name a real row).
EXTRA_BODY = {
    ("api/v1/stations/<int:pk>/compliance-documents/", "post"): lambda w: {
        "period": w.period.month.strftime("%Y-%m"),
        "document_type": "licence_fee_receipt",
    },
}

# List query parameters that name an object, and side b's object for each.
FILTER_OBJECTS = {
    "station": lambda w, s: s.station.pk,
    "station_id": lambda w, s: s.station.pk,
    "track": lambda w, s: s.track.pk,
    "track_id": lambda w, s: s.track.pk,
    "artist": lambda w, s: s.artist.pk,
    "artist_id": lambda w, s: s.artist.pk,
    "publisher": lambda w, s: s.publisher.pk,
    "user": lambda w, s: s.artist_user.pk,
    "payee": lambda w, s: s.artist_user.pk,
    "subject_user": lambda w, s: s.artist_user.pk,
    "play": lambda w, s: s.disputed_play.pk,
    "dispute": lambda w, s: s.dispute.pk,
    "period": lambda w, s: w.period.pk,
    "link": lambda w, s: s.stream_link.pk,
    "stream_link": lambda w, s: s.stream_link.pk,
}


# Text only side b's parties and staff may read (station b's name is public, so is its
# approved track; these are not).
def _private_texts(side) -> list[str]:
    return [side.marker.lower(), side.kyc.id_number.lower(), side.member.user.email]


# --- Machinery -------------------------------------------------------------------------------
class Caller:
    def __init__(self, role: str, user):
        from users.services import tokens_for_user

        self.role, self.user = role, user
        self.client = APIClient()
        self.client.raise_request_exception = False
        if user is not None:
            self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for_user(user)['access']}")

    def call(self, method: str, url: str, body=None, fmt: str = "json"):
        cache.clear()  # throttles count per test; the walker makes hundreds of calls
        kwargs = {"format": fmt} if body is not None else {}
        return getattr(self.client, method)(url, body if body is not None else None, **kwargs)


class Walk:
    def __init__(self, world: World):
        self.world = world
        self.schema = openapi_schema()
        self.ops = operations(self.schema)
        self.callers = {role: Caller(role, user) for role, user in world.users_by_role().items()}
        self.problems: list[str] = []
        self.checked: set[tuple[str, str]] = set()  # (route, role)
        self.requests = 0

    def body(self, route, method: str, extra: dict | None = None):
        op = self.ops.get((schema_key("/" + route.pattern), method))
        # Name real rows so a request refused for access could otherwise have succeeded.
        b = self.world.b
        overrides = {
            "email": b.member.user.email,
            "note": "Hardening suite",
            "reason": "Hardening suite",
            "body": "Hardening suite",
            "role": "staff",
            "enabled": False,
            "is_active": False,
            "document_type": "playlist_return",
            **EXTRA_BODY.get((route.pattern, method), lambda w: {})(self.world),
            **(extra or {}),
        }
        return body_for(self.schema, op, overrides)

    def request(self, role: str, method: str, url: str, body=None, fmt="json", *, watch=True):
        """One call in a savepoint: (response, changes it made), then rolled back. Reads and
        calls the caller may make are not watched (their changes are not judged)."""
        with transaction.atomic():
            before = snapshot.state() if watch and method != "get" else None
            response = self.callers[role].call(method, url, body, fmt)
            changed = snapshot.changes(before, snapshot.state()) if before else []
            transaction.set_rollback(True)
        self.requests += 1
        return response, changed

    def expect_refused(self, label: str, role: str, response, changed) -> None:
        expected = (401,) if role == "anonymous" else REFUSED
        if response.status_code not in expected:
            self.problems.append(f"{label}: {response.status_code}, expected {expected}")
        elif response.headers.get("Content-Type", "").startswith("application/json"):
            body = response.json()
            if not (isinstance(body, dict) and {"code", "message"} <= set(body.get("error", {}))):
                self.problems.append(f"{label}: refusal not in the error shape: {body}")
        if changed:
            self.problems.append(f"{label}: refused but changed {changed}")

    def expect_no_5xx(self, label: str, response) -> None:
        if response.status_code >= 500:
            self.problems.append(f"{label}: {response.status_code}")

    def expect_no_leak(self, label: str, response) -> None:
        text = response.content.decode("utf-8", "replace").lower()
        for secret in _private_texts(self.world.b):
            if secret.lower() in text:
                self.problems.append(f"{label}: shows side b's private {secret!r}")

    # --- Routes with object parameters -----------------------------------------------------
    def object_route(self, route) -> None:
        candidates = [[]]
        for segment, name in route.params:
            options = PARAM_OBJECTS[(segment, name)]
            candidates = [c + [(name, label, fn)] for c in candidates for label, fn in options]
        for combo in candidates:
            values = {name: fn(self.world, self.world.b) for name, _label, fn in combo}
            what = "/".join(label for _n, label, _f in combo)
            url = route.url(values)
            for role in ROLES:
                self.checked.add((route.pattern, role))
                for method in route.methods:
                    body, fmt = self.body(route, method) if method != "get" else (None, "json")
                    watch = self.refusal_expected(route.pattern, method, role, what)
                    response, changed = self.request(role, method, url, body, fmt, watch=watch)
                    label = f"{method.upper()} {url} ({what}) as {role}"
                    self.judge(route.pattern, method, role, what, label, response, changed)

    @staticmethod
    def refusal_expected(pattern, method, role, what) -> bool:
        if role == "anonymous":
            return True
        if role in OWNER_ROLES:
            return (pattern, method, role, what.split("/")[-1]) not in FOREIGN_ALLOWED
        return (pattern, method) in STAFF_REFUSED[role]

    def judge(self, pattern, method, role, what, label, response, changed) -> None:
        if self.refusal_expected(pattern, method, role, what):
            self.expect_refused(label, role, response, changed)
        else:
            self.expect_no_5xx(label, response)
            # The control: the object in the URL is real, so the refusals above were about
            # access, not about a missing row (a report still being generated is a 409).
            # (A draft track's URL with the approved track's split version is no real pair.)
            real = "draft track/" not in what
            if (
                real
                and role == "superadmin"
                and method == "get"
                and response.status_code not in (200, 409)
            ):
                self.problems.append(
                    f"{label}: {response.status_code}; the walk's object is unreadable"
                )

    # --- Collection routes --------------------------------------------------------------------
    def collection_route(self, route) -> None:
        url = route.url({})
        op_get = self.ops.get((schema_key(url), "get"), {})
        filters = [
            p["name"]
            for p in op_get.get("parameters", ())
            if p.get("in") == "query" and p["name"] in FILTER_OBJECTS
        ]
        for role in ROLES:
            self.checked.add((route.pattern, role))
            for method in route.methods:
                label = f"{method.upper()} {url} as {role}"
                if method == "get":
                    self.collection_get(route, role, url, filters, label)
                elif (route.pattern, method) in FOREIGN_WRITES:
                    body = FOREIGN_WRITES[(route.pattern, method)](self.world, self.world.b)
                    response, changed = self.request(role, method, url, body)
                    if role in STAFF_ROLES:
                        self.expect_no_5xx(label, response)
                    else:
                        self.expect_refused(label, role, response, changed)
                elif role == "anonymous":
                    body, fmt = self.body(route, method)
                    response, changed = self.request(role, method, url, body, fmt)
                    if (route.pattern, method) != ("api/v1/notifications/unsubscribe/", "post"):
                        self.expect_refused(label, role, response, changed)
                else:
                    body, fmt = self.body(route, method)
                    response, _changed = self.request(role, method, url, body, fmt, watch=False)
                    self.expect_no_5xx(label, response)

    def collection_get(self, route, role, url, filters, label) -> None:
        response, changed = self.request(role, "get", url)
        if role == "anonymous":
            if route.pattern != "api/v1/notifications/unsubscribe/":
                self.expect_refused(label, role, response, changed)
            return
        self.expect_no_5xx(label, response)
        if role in STAFF_ROLES:
            return
        self.expect_no_leak(label, response)
        for name in filters:
            value = FILTER_OBJECTS[name](self.world, self.world.b)
            filtered, _ = self.request(role, "get", f"{url}?{name}={value}")
            self.expect_no_5xx(f"{label} ?{name}=b", filtered)
            self.expect_no_leak(f"{label} ?{name}=b", filtered)

    # --- The live-monitor pages (session sign-in) --------------------------------------------
    def pages(self) -> None:
        from django.test import Client

        b_station = self.world.b.station.name
        for role, user in self.world.users_by_role().items():
            client = Client()
            if user is not None:
                client.force_login(user)
            for path in ("/", "/live/token/"):
                self.checked.add((path.lstrip("/"), role))
                response = client.get(path)
                self.requests += 1
                label = f"GET {path} as {role}"
                if role == "anonymous" and path == "/live/token/":
                    if response.status_code not in (401, 403):
                        self.problems.append(f"{label}: {response.status_code}, expected 401/403")
                elif role == "anonymous":
                    if response.status_code != 302 or "/login/" not in response["Location"]:
                        self.problems.append(f"{label}: {response.status_code}, expected login")
                elif role in ("artist", "publisher"):
                    if response.status_code != 403:
                        self.problems.append(f"{label}: {response.status_code}, expected 403")
                else:
                    self.expect_no_5xx(label, response)
                    if response.status_code != 200:
                        self.problems.append(f"{label}: {response.status_code}, expected 200")
                    if role == "station" and b_station in response.content.decode():
                        self.problems.append(f"{label}: shows station b ({b_station})")


def _unmapped(route) -> list[tuple[str, str]]:
    return [p for p in route.params if p not in PARAM_OBJECTS]


@pytest.mark.django_db
def test_every_route_refuses_everyone_but_the_owner_and_changes_nothing(settings):
    settings.STREAM_CAPTURE_ALLOW_LOOPBACK = False
    world = build_world()
    walk = Walk(world)
    uncovered = []
    for route in all_routes():
        if route.pattern in EXEMPT or route.pattern.startswith(tuple(EXEMPT_PREFIXES)):
            continue
        if route.pattern in ("", "live/token/"):
            continue  # walked below with a session, as the page signs in
        if not route.pattern.startswith("api/v1/"):
            uncovered.append(f"{route.pattern}: not under /api/v1/ and not exempt")
            continue
        if _unmapped(route):
            uncovered.append(f"{route.pattern}: no object for {_unmapped(route)}")
            continue
        if route.params:
            walk.object_route(route)
            continue
        for method in route.methods:
            if method == "get":
                continue
            key = (route.pattern, method)
            if key not in SELF_SCOPED_WRITES and key not in FOREIGN_WRITES:
                uncovered.append(f"{method.upper()} {route.pattern}: write not classified")
        walk.collection_route(route)
    walk.pages()

    report = os.environ.get("HARDENING_REPORT")
    if report:  # figures for docs/reliability.md
        with open(report, "w") as out:
            json.dump(
                {
                    "route_roles": len(walk.checked),
                    "routes": len({r for r, _ in walk.checked}),
                    "requests": walk.requests,
                    "exempt": len(EXEMPT),
                    "problems": walk.problems,
                },
                out,
                indent=1,
            )
    assert uncovered == []
    assert walk.problems == []
    assert len({r for r, _ in walk.checked}) >= 120
    assert walk.requests > 1000
