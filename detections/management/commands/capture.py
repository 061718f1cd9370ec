"""The continuous capture worker: reads station streams without gaps and detects plays.

    python manage.py capture --station joy-fm [--station peace-fm]
    python manage.py capture --all [--max-stations 40]

Each station is read by one thread of one worker at a time, anywhere: the worker holds a
lease per station in PostgreSQL (stream_capture.services.lease_*) and renews it while it
reads; a worker that dies stops renewing, and another takes the station over when the
lease expires. Windows go through the same `window_analyse` as sampled capture,
recordings and uploads, keyed by their on-air time.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection

from detections import services
from detections.models import PlaySource
from fingerprinting.catalog_index import catalog_index_preload
from fingerprinting.engine import warm_up

logger = logging.getLogger("detections.capture")


@dataclass
class _StationThread:
    station_id: int
    link_id: int
    url: str
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    windows: int = 0
    errors: int = 0


class Command(BaseCommand):
    help = "Continuously captures station streams and logs the plays heard (a long-lived worker)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--station", action="append", default=[], help="slug of a station (repeatable)"
        )
        parser.add_argument(
            "--all", action="store_true", help="every station with monitoring enabled"
        )
        parser.add_argument(
            "--max-stations", type=int, default=0, help="cap on stations this worker reads"
        )
        parser.add_argument("--worker-id", default="", help="defaults to host:pid")
        parser.add_argument(
            "--seconds",
            type=float,
            default=0.0,
            help="stop after this long (default: run until SIGTERM/SIGINT)",
        )

    def handle(self, *args, **options):
        if not options["station"] and not options["all"]:
            raise CommandError("name --station SLUG (repeatable) or --all")
        from stations.models import Station

        if options["station"]:
            found = dict(
                Station.objects.filter(slug__in=options["station"]).values_list("slug", "pk")
            )
            missing = sorted(set(options["station"]) - set(found))
            if missing:
                raise CommandError(f"no station with slug {', '.join(missing)}")
        worker = CaptureWorker(
            worker_id=options["worker_id"] or f"{socket.gethostname()}:{os.getpid()}",
            slugs=options["station"],
            max_stations=options["max_stations"],
            log=lambda msg: self.stdout.write(msg),
        )
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        worker.run(stop=stop, seconds=options["seconds"] or None)


class CaptureWorker:
    """Leases stations, runs one reader thread per leased station, renews, releases."""

    def __init__(self, *, worker_id: str, slugs: list[str], max_stations: int, log=print):
        self.worker_id = worker_id
        self.slugs = slugs
        self.max_stations = max_stations
        self.log = log
        self.running: dict[int, _StationThread] = {}
        self.ttl = settings.DETECTIONS_CAPTURE_LEASE_SECONDS

    def run(self, *, stop: threading.Event, seconds: float | None = None) -> None:
        # Compiled and loaded before any station is leased, so the first windows are not
        # late.
        warm_up()
        catalog_index_preload()
        deadline = time.monotonic() + seconds if seconds else None
        # Renew well before expiry: a third of the lease leaves two tries to spare.
        every = max(1.0, self.ttl / 3)
        self.log(f"capture worker {self.worker_id} started")
        try:
            while not stop.is_set():
                self._reconcile()
                wait = every
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                    if wait <= 0:
                        break
                stop.wait(wait)
        finally:
            for station_id in list(self.running):
                self._stop_station(station_id, release=True)
            close_old_connections()
            self.log(f"capture worker {self.worker_id} stopped")

    # -- one pass of the supervisor ------------------------------------------------------
    def _wanted(self) -> list[int]:
        from stations.models import Station

        qs = Station.objects.filter(monitoring_enabled=True)
        if self.slugs:
            qs = qs.filter(slug__in=self.slugs)
        return list(qs.order_by("pk").values_list("pk", flat=True))

    def _reconcile(self) -> None:
        from stream_capture.selectors import capture_link_for
        from stream_capture.services import lease_acquire, lease_renew

        close_old_connections()
        wanted = set(self._wanted())
        for station_id in list(self.running):
            item = self.running[station_id]
            if station_id not in wanted or (item.thread and not item.thread.is_alive()):
                self._stop_station(station_id, release=True)
                continue
            if not lease_renew(
                station_id=station_id, worker_id=self.worker_id, ttl_seconds=self.ttl
            ):
                self.log(f"station {station_id}: lease lost, stopping")
                self._stop_station(station_id, release=False)
                continue
            link = capture_link_for(station_id=station_id)
            if link is None or link.pk != item.link_id:
                # Staff disabled the link, or it went down and a backup is up: switch.
                self._stop_station(station_id, release=False)
        for station_id in sorted(wanted - set(self.running)):
            if self.max_stations and len(self.running) >= self.max_stations:
                break
            link = capture_link_for(station_id=station_id)
            if link is None:
                continue
            if not lease_acquire(
                station_id=station_id, worker_id=self.worker_id, ttl_seconds=self.ttl
            ):
                continue  # another worker reads it
            item = _StationThread(station_id=station_id, link_id=link.pk, url=link.url)
            item.thread = threading.Thread(
                target=self._read, args=(item,), name=f"capture-{station_id}", daemon=True
            )
            self.running[station_id] = item
            item.thread.start()
            self.log(f"station {station_id}: reading {link.url}")

    def _stop_station(self, station_id: int, *, release: bool) -> None:
        from stream_capture.services import lease_release

        item = self.running.pop(station_id, None)
        if item is None:
            return
        item.stop.set()
        reader = getattr(item, "reader", None)
        if reader is not None:
            reader.stop()
        if item.thread is not None:
            item.thread.join(timeout=30)
        if release:
            lease_release(station_id=station_id, worker_id=self.worker_id)

    # -- one station's reader thread -----------------------------------------------------
    def _read(self, item: _StationThread) -> None:
        from stream_capture.ffmpeg import StreamReader
        from stream_capture.urlsafety import UnsafeStreamUrl

        reader = StreamReader(
            item.url,
            window_seconds=settings.DETECTIONS_WINDOW_SECONDS,
            hop_seconds=settings.DETECTIONS_HOP_SECONDS,
            stop_event=item.stop,
            link_id=item.link_id,
        )
        item.reader = reader  # type: ignore[attr-defined]
        try:
            for window in reader:
                try:
                    services.window_analyse(
                        station_id=item.station_id,
                        captured_at=window.started_at,
                        samples=window.samples,
                        source=PlaySource.RADIO,
                        window_key=services.window_key_for(
                            source=PlaySource.RADIO,
                            captured_at=window.started_at,
                            seconds=window.seconds,
                        ),
                    )
                    item.windows += 1
                except Exception:
                    # One bad window (a database hiccup) must not end the station's capture;
                    # the next window is analysed on a fresh connection.
                    item.errors += 1
                    logger.exception("station %s: window analysis failed", item.station_id)
                    close_old_connections()
        except UnsafeStreamUrl as exc:
            self.log(f"station {item.station_id}: unsafe stream URL refused: {exc.message}")
        finally:
            connection.close()
