"""Rate cards, royalty periods, the pricing of each play, its royalty lines, station
invoices, the ledger postings of a close, and generated report files.

Money is GHS with two decimal places. A play is priced once per period it touches:
a `regular` PlayRoyalty in the period it first lands in, and an `adjustment` in a
later open period when something changes after that period closed.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from artists.storage import PrivateStorage
from zamio.models import TimeStampedModel

HALF_PESEWA = Decimal("0.005")

MONEY = {"max_digits": 14, "decimal_places": 2}


# --- Rate cards -----------------------------------------------------------------------------
class RateCard(TimeStampedModel):
    """The prices in force from `effective_from` until the next card's `effective_from`.

    Immutable once in force: a change is a new card, so plays before its date keep
    the prices they were calculated with.
    """

    name = models.CharField(max_length=120)
    effective_from = models.DateTimeField(unique=True)
    min_play_seconds = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("20.00"),
        help_text="Plays shorter than this are logged but carry no royalty.",
    )
    cmo_fee_percent = models.DecimalField(
        max_digits=5, decimal_places=2, help_text="CMO administration fee, percent of the gross."
    )
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-effective_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(cmo_fee_percent__gte=0) & Q(cmo_fee_percent__lte=100),
                name="royalties_ratecard_fee_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(min_play_seconds__gte=0), name="royalties_ratecard_min_play_nonneg"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (from {self.effective_from:%Y-%m-%d %H:%M})"


class RateCardRate(models.Model):
    """Base rate per second of airplay for one station class."""

    rate_card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="rates")
    station_class = models.CharField(max_length=20)
    rate_per_second = models.DecimalField(max_digits=12, decimal_places=6)

    class Meta:
        ordering = ["rate_card", "station_class"]
        constraints = [
            models.UniqueConstraint(
                fields=["rate_card", "station_class"], name="royalties_rate_one_per_class"
            ),
            models.CheckConstraint(
                condition=Q(rate_per_second__gte=0), name="royalties_rate_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.station_class}: {self.rate_per_second}/s"


class RateCardBand(models.Model):
    """A time-of-day band [start_minute, end_minute) in the station's local time.

    Minutes outside every band of a card are "regular" (multiplier 1).
    """

    rate_card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="bands")
    name = models.CharField(max_length=40)
    start_minute = models.PositiveSmallIntegerField()
    end_minute = models.PositiveSmallIntegerField()
    multiplier = models.DecimalField(max_digits=6, decimal_places=3)

    class Meta:
        ordering = ["rate_card", "start_minute"]
        constraints = [
            models.UniqueConstraint(
                fields=["rate_card", "start_minute"], name="royalties_band_one_per_start"
            ),
            models.CheckConstraint(
                condition=Q(start_minute__lt=models.F("end_minute")) & Q(end_minute__lte=1440),
                name="royalties_band_bounds",
            ),
            models.CheckConstraint(
                condition=Q(multiplier__gte=0), name="royalties_band_multiplier_nonneg"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.start_minute // 60:02d}:{self.start_minute % 60:02d}"


# --- Periods --------------------------------------------------------------------------------
class PeriodStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSING = "closing", "Closing"
    CLOSED = "closed", "Closed"
    PAID = "paid", "Paid"


LOCKED_PERIOD_STATUSES = (PeriodStatus.CLOSING, PeriodStatus.CLOSED, PeriodStatus.PAID)


class RoyaltyPeriod(TimeStampedModel):
    """One calendar month (platform time zone): open → closing → closed → paid.

    Once closing, nothing in it changes: later plays and corrections land in the
    next open period.
    """

    month = models.DateField(unique=True, help_text="The first day of the month.")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(
        max_length=8, choices=PeriodStatus.choices, default=PeriodStatus.OPEN, db_index=True
    )
    close_started_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    # Totals frozen at close (the lines are the truth; these are for lists and checks).
    plays_count = models.PositiveIntegerField(default=0)
    gross_total = models.DecimalField(**MONEY, default=Decimal("0.00"))
    cmo_fee_total = models.DecimalField(**MONEY, default=Decimal("0.00"))
    payees_total = models.DecimalField(**MONEY, default=Decimal("0.00"))

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=models.F("ends_at")), name="royalties_period_bounds"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.status})"

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def is_open(self) -> bool:
        return self.status == PeriodStatus.OPEN


# --- Calculation ----------------------------------------------------------------------------
class CalculationKind(models.TextChoices):
    REGULAR = "regular", "Regular"
    ADJUSTMENT = "adjustment", "Adjustment"


class PlayRoyalty(models.Model):
    """How one play was priced in one period. A regular row per play; adjustments carry
    the difference when a play changes after the period of its regular row closed."""

    play = models.ForeignKey(
        "detections.PlayLog", on_delete=models.PROTECT, related_name="royalties"
    )
    period = models.ForeignKey(
        RoyaltyPeriod, on_delete=models.PROTECT, related_name="plays", db_index=False
    )
    kind = models.CharField(
        max_length=10, choices=CalculationKind.choices, default=CalculationKind.REGULAR
    )
    station = models.ForeignKey("stations.Station", on_delete=models.PROTECT, related_name="+")
    track = models.ForeignKey("tracks.Track", on_delete=models.PROTECT, related_name="+")
    played_at = models.DateTimeField()
    duration_seconds = models.DecimalField(max_digits=10, decimal_places=2)
    rate_card = models.ForeignKey(
        RateCard, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    station_class = models.CharField(max_length=20)
    rate_per_second = models.DecimalField(max_digits=12, decimal_places=6)
    # {"prime": "35.00", "regular": "140.00"}: the seconds priced in each band.
    band_seconds = models.JSONField(default=dict)
    below_minimum = models.BooleanField(default=False)
    gross = models.DecimalField(**MONEY)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["played_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["play"], condition=Q(kind="regular"), name="royalties_one_regular_per_play"
            ),
            models.UniqueConstraint(
                fields=["play", "period"],
                condition=Q(kind="adjustment"),
                name="royalties_one_adjustment_per_play_period",
            ),
        ]
        indexes = [
            models.Index(fields=["period", "station", "track"]),
            models.Index(fields=["period", "played_at"]),
        ]

    def __str__(self) -> str:
        return f"Play {self.play_id} {self.kind} {self.gross} in {self.period_id}"


class PayeeType(models.TextChoices):
    CONTRIBUTOR = "contributor", "Contributor"
    PUBLISHER = "publisher", "Publisher"
    CMO = "cmo", "CMO administration fee"
    UNALLOCATED = "unallocated", "Unallocated (no splits on file)"


class LineRole(models.TextChoices):
    """Roles beyond the contributor roles of tracks.ContributorRole."""

    PUBLISHER_SHARE = "publisher_share", "Publisher's share of an artist"
    CMO_FEE = "cmo_fee", "CMO administration fee"
    UNALLOCATED = "unallocated", "Unallocated"


class RoyaltyLine(models.Model):
    """What one payee earned from one play in one role. The lines of a PlayRoyalty sum
    exactly to its gross (CMO fee included)."""

    play_royalty = models.ForeignKey(PlayRoyalty, on_delete=models.CASCADE, related_name="lines")
    play = models.ForeignKey("detections.PlayLog", on_delete=models.PROTECT, related_name="+")
    # Millions of rows a year: each index costs every insert, so a foreign key whose
    # look-ups a composite index below already serves gets no index of its own.
    period = models.ForeignKey(
        RoyaltyPeriod, on_delete=models.PROTECT, related_name="lines", db_index=False
    )
    kind = models.CharField(max_length=10, choices=CalculationKind.choices)
    # "contributor:<id>", "publisher:<id>", "cmo" or "unallocated": one payee, however paid.
    payee_key = models.CharField(max_length=40)
    payee_type = models.CharField(max_length=12, choices=PayeeType.choices)
    contributor = models.ForeignKey(
        "tracks.Contributor", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    publisher = models.ForeignKey(
        "artists.Publisher", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The account paid; empty for payees without a login (their money waits as unclaimed).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="royalty_lines",
    )
    role = models.CharField(max_length=20)
    share_bp = models.DecimalField(
        max_digits=10, decimal_places=4, help_text="Effective share of the gross, basis points."
    )
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["play_royalty", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["play", "payee_key", "role"],
                condition=Q(kind="regular"),
                name="royalties_one_line_per_play_payee_role",
            ),
            models.UniqueConstraint(
                fields=["play", "payee_key", "role", "period"],
                condition=Q(kind="adjustment"),
                name="royalties_one_adjustment_line_per_play_payee_role_period",
            ),
        ]
        indexes = [models.Index(fields=["period", "user"])]

    def __str__(self) -> str:
        return f"{self.payee_key} {self.role} {self.amount}"


# --- Invoices -------------------------------------------------------------------------------
class InvoiceStatus(models.TextChoices):
    ISSUED = "issued", "Issued"
    PAID = "paid", "Paid"
    OVERDUE = "overdue", "Overdue"


class StationInvoice(TimeStampedModel):
    """What a station owes for what it aired in a period; issued when the period closes."""

    period = models.ForeignKey(RoyaltyPeriod, on_delete=models.PROTECT, related_name="invoices")
    station = models.ForeignKey(
        "stations.Station", on_delete=models.PROTECT, related_name="royalty_invoices"
    )
    number = models.CharField(max_length=40, unique=True)
    status = models.CharField(
        max_length=8, choices=InvoiceStatus.choices, default=InvoiceStatus.ISSUED, db_index=True
    )
    issued_at = models.DateTimeField()
    due_date = models.DateField()
    plays_count = models.PositiveIntegerField()
    airtime_seconds = models.DecimalField(max_digits=14, decimal_places=2)
    subtotal = models.DecimalField(**MONEY)
    vat_percent = models.DecimalField(max_digits=5, decimal_places=2)
    vat_amount = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payment_reference = models.CharField(max_length=100, blank=True)
    overdue_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "station"], name="royalties_one_invoice_per_station_period"
            ),
            # total = subtotal + VAT, to the pesewa. Written as a half-pesewa window: on
            # PostgreSQL's exact numeric it is the same as equality for 2-dp amounts, and it
            # also holds on SQLite (the demo), which stores decimals as floating point.
            models.CheckConstraint(
                condition=Q(
                    total__gte=models.F("subtotal") + models.F("vat_amount") - HALF_PESEWA,
                    total__lte=models.F("subtotal") + models.F("vat_amount") + HALF_PESEWA,
                ),
                name="royalties_invoice_total_adds_up",
            ),
        ]
        indexes = [models.Index(fields=["station", "status"])]

    def __str__(self) -> str:
        return f"{self.number} ({self.status})"


class StationInvoiceLine(models.Model):
    invoice = models.ForeignKey(StationInvoice, on_delete=models.CASCADE, related_name="lines")
    track = models.ForeignKey("tracks.Track", on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=300)
    artist = models.CharField(max_length=200)
    plays_count = models.PositiveIntegerField()
    airtime_seconds = models.DecimalField(max_digits=14, decimal_places=2)
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["invoice", "title", "track_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "track"], name="royalties_invoice_line_one_per_track"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} × {self.plays_count}"


# --- Ledger postings of a close -------------------------------------------------------------
class PostingKind(models.TextChoices):
    STATION_CHARGE = "station_charge", "Station charge (receivable)"
    PAYEE = "payee", "Payee earnings (wallet)"
    UNCLAIMED = "unclaimed", "Unclaimed earnings"
    CMO_FEE = "cmo_fee", "CMO administration fee"


class RoyaltyPosting(models.Model):
    """One ledger entry a period close makes, planned before it is posted.

    Its idempotency key is fixed when the plan is written; the ledger refuses a
    second entry with the same key, so a close that is retried (or run twice)
    posts each of these exactly once.
    """

    period = models.ForeignKey(RoyaltyPeriod, on_delete=models.PROTECT, related_name="postings")
    kind = models.CharField(max_length=16, choices=PostingKind.choices)
    # "user:<id>", "station:<id>", "unclaimed", "cmo": one row per target per period.
    target = models.CharField(max_length=40)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    station = models.ForeignKey(
        "stations.Station", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    amount = models.DecimalField(**MONEY)
    lines_count = models.PositiveIntegerField(default=0)
    idempotency_key = models.CharField(max_length=200, unique=True)
    journal_entry_id = models.BigIntegerField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["period", "kind", "target"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "target"], name="royalties_one_posting_per_target_period"
            ),
        ]
        indexes = [models.Index(fields=["period", "posted_at"])]

    def __str__(self) -> str:
        return f"{self.idempotency_key} {self.amount}"


# --- Reports --------------------------------------------------------------------------------
class ReportKind(models.TextChoices):
    STATEMENT = "statement", "Payee statement"
    INVOICE = "invoice", "Station invoice"
    SUMMARY = "summary", "Period summary (staff)"
    CMO_EXPORT = "cmo_export", "CMO export"


class ReportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    PDF = "pdf", "PDF"


class ReportStatus(models.TextChoices):
    PENDING = "pending", "Being generated"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


def report_path(instance: ReportFile, filename: str) -> str:
    return f"royalties/reports/{instance.period.month:%Y-%m}/{uuid.uuid4().hex}-{filename}"


class ReportFile(TimeStampedModel):
    """A generated statement, invoice, summary or CMO export, kept in private storage."""

    kind = models.CharField(max_length=12, choices=ReportKind.choices)
    format = models.CharField(max_length=3, choices=ReportFormat.choices)
    period = models.ForeignKey(RoyaltyPeriod, on_delete=models.PROTECT, related_name="reports")
    # The payee a statement is for, or the invoice an invoice report renders.
    subject_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    invoice = models.ForeignKey(
        StationInvoice, null=True, blank=True, on_delete=models.CASCADE, related_name="reports"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=8, choices=ReportStatus.choices, default=ReportStatus.PENDING
    )
    # Generated for a period that was already closed: its content can never change.
    period_was_closed = models.BooleanField(default=False)
    file = models.FileField(
        storage=PrivateStorage(), upload_to=report_path, blank=True, max_length=255
    )
    filename = models.CharField(max_length=120, blank=True)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    generated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="statement") | Q(subject_user__isnull=False),
                name="royalties_statement_has_subject",
            ),
            models.CheckConstraint(
                condition=~Q(kind="invoice") | Q(invoice__isnull=False),
                name="royalties_invoice_report_has_invoice",
            ),
        ]
        indexes = [
            models.Index(fields=["period", "kind", "format"]),
            models.Index(fields=["subject_user", "period"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.format} {self.period.label} ({self.status})"
