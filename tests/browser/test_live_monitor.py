"""Headless Chromium against a running server: the live monitor shows a play the moment
the capture worker detects it (no reload), and a finance officer approves a withdrawal
waiting for approval in Django admin.

The server is Daphne (HTTP + WebSocket) in a subprocess on the test's database, with the
Redis channel layer; the capture worker (`manage.py capture`) is another subprocess,
reading a live MP3 station served by this test on 127.0.0.1. Chromium is Debian's
(`.ci/run` installs it), driven by Playwright's Python package.
"""

from __future__ import annotations

import shutil
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from django.conf import global_settings
from django.contrib.auth.models import Permission

from conftest import make_user
from detections.tests.conftest import SR, make_catalogue, talk
from tests.processes import free_port, process_env, running, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PASSWORD = "Str0ng-pass-123"


@pytest.fixture
def playwright_api():
    """Playwright's sync API, or a skip saying what is missing. The browser starts inside
    the test, after its set-up: Playwright runs an event loop in the test's thread, and
    the set-up's services broadcast through async_to_sync, which cannot run beside one."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does it)")
    return pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@contextmanager
def chromium(api, profile: Path):
    with api.sync_playwright() as pw:
        # A fresh profile per test (Playwright passes it as --user-data-dir).
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield context
        finally:
            context.close()


def _log_in(page, base: str, *, email: str, path: str = "/login/") -> None:
    page.goto(f"{base}{path}")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_load_state()


@pytest.mark.django_db(transaction=True)
def test_a_detected_play_appears_live_and_finance_approves_a_withdrawal_in_admin(
    settings, tmp_path, playwright_api, monkeypatch
):
    from stations.services import (
        station_create,
        station_set_monitoring,
        station_verify,
        stream_link_create,
    )
    from stream_capture.testing import serve_stream
    from wallets.services import withdrawal_request
    from wallets.tests.factories import fund, make_payee

    if not settings.REDIS_URL:
        pytest.skip("the live feed between processes needs Redis (REDIS_URL)")
    # Playwright's sync API runs an event loop in this thread; the ORM reads this test
    # makes while the browser is open are plain synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.STREAM_CAPTURE_ALLOW_LOOPBACK = True
    settings.TRACKS_RECORDING_MATCHER = ""  # one synthesised song: no duplicate check
    settings.WALLETS_PAYOUT_COOLING_OFF_HOURS = 0
    settings.WALLETS_APPROVAL_THRESHOLD = Decimal("1000.00")
    # The server checks passwords with the real hashers, not the fast test one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS

    # Given: a catalogue song, a station on air with it, its manager, finance staff, and
    # an artist whose withdrawal is above the approval threshold.
    catalogue = make_catalogue(tmp_path / "catalogue", {"Kpanlogo Fire": 103})
    song = catalogue["Kpanlogo Fire"]
    manager = make_user("station", email="manager@browser.test", password=PASSWORD)
    support = make_user("admin", staff_role="support")
    finance = make_user(
        "admin", staff_role="finance", email="finance@browser.test", password=PASSWORD
    )
    # Django admin shows a model to staff who hold its view permission (given by a group
    # in production); the approve action itself is checked by the wallets service.
    finance.user_permissions.add(
        Permission.objects.get(content_type__app_label="wallets", codename="view_withdrawal")
    )
    artist = make_payee(phone="+233201112222")
    fund(artist, "2500.00")
    withdrawal = withdrawal_request(user=artist, amount=Decimal("1500.00"), request_key="big")
    assert (withdrawal.status, withdrawal.requires_approval) == ("requested", True)

    broadcast = np.concatenate([talk(7, 8), song.audio, talk(8, 8)])
    env = process_env(tmp_path, CELERY_TASK_ALWAYS_EAGER="1")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    logs = tmp_path / "logs"
    with serve_stream(broadcast, SR, loop=True) as url:
        station = station_create(
            actor=manager, name="Browser FM", station_class="B", slug="browser-fm"
        )
        station_verify(actor=support, station=station)
        station_set_monitoring(actor=support, station=station, enabled=True)
        stream_link_create(actor=manager, station=station, url=str(url))

        daphne = ["daphne", "-b", "127.0.0.1", "-p", str(port), "zamio.asgi:application"]
        with ExitStack() as stack:
            server = stack.enter_context(running("daphne", daphne, env=env, logs=logs))
            wait_for(
                lambda: _answers(f"{base}/login/"),
                timeout=30,
                what="Daphne to serve",
                procs=[server],
            )
            browser = stack.enter_context(chromium(playwright_api, tmp_path / "profile"))
            page = browser.new_page()
            _log_in(page, base, email=manager.email)
            assert page.url == f"{base}/"
            page.wait_for_selector("#feed-state:text('live')", timeout=15_000)
            page.evaluate("window.__sameDocument = true")
            assert page.locator("#plays tbody tr[data-play]").count() == 0

            # When: the capture worker hears the song on the station...
            capture = ["django", "capture", "--station", "browser-fm", "--worker-id", "browser"]
            with running(
                "capture",
                capture,
                env={**env, "DJANGO_SETTINGS_MODULE": "zamio.settings"},
                logs=logs,
            ) as worker:
                # ...then the play appears on the open page, pushed over the WebSocket.
                row = page.locator("#plays tbody tr[data-play]", has_text="Kpanlogo Fire")
                wait_for(
                    lambda: row.count() == 1,
                    timeout=90,
                    what="the play to appear on the live monitor",
                    procs=[server, worker],
                )
                assert page.evaluate("window.__sameDocument") is True  # not reloaded
                cells = row.locator("td")
                assert cells.nth(1).inner_text() == "Browser FM"
                assert float(cells.nth(4).inner_text()) >= settings.FINGERPRINT_VERIFIED_THRESHOLD
                assert page.locator("#total-plays").inner_text() == "1"
                screenshot = tmp_path / "live-monitor.png"
                page.screenshot(path=str(screenshot), full_page=True)
                print(f"live monitor screenshot: {screenshot}")

            # A finance officer approves the withdrawal in Django admin.
            admin = browser.new_page()
            _log_in(admin, base, email=finance.email, path="/admin/login/?next=/admin/")
            admin.goto(f"{base}/admin/wallets/withdrawal/?status__exact=requested")
            admin.check(f"input[name=_selected_action][value='{withdrawal.pk}']")
            admin.select_option("select[name=action]", "approve_selected")
            admin.click("button[name=index]")
            admin.wait_for_load_state()
            assert "Approved: 1 withdrawal(s)." in admin.inner_text("ul.messagelist")

    withdrawal.refresh_from_db()
    assert withdrawal.approved_by_id == finance.pk
    # Approval queues the payout; the server runs Celery eagerly, so the sandbox paid it.
    assert withdrawal.status == "succeeded"


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local test server
            return response.status == 200
    except OSError:
        return False
