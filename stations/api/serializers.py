from __future__ import annotations

from rest_framework import serializers

from stations.models import (
    ComplianceDocument,
    ComplianceDocumentType,
    ComplianceStatus,
    PlaylogFormat,
    Station,
    StationClass,
    StationPlaylog,
    StationPlaylogEntry,
    StationStaff,
    StationStaffRole,
    StreamLink,
    StreamLinkKind,
)


# --- Stations ----------------------------------------------------------------------------------
class StationPublicOutput(serializers.ModelSerializer):
    """What anyone signed in may know about a station (artists' and publishers' view)."""

    class Meta:
        model = Station
        fields = [
            "id",
            "name",
            "slug",
            "call_sign",
            "frequency",
            "region",
            "city",
            "country",
            "station_class",
            "is_verified",
        ]
        read_only_fields = fields


class StationReadSchema(StationPublicOutput):
    """Only documents a station as read (never serializes): the public facts always, the
    rest only for staff and the station's own accounts, so those fields are optional."""

    timezone = serializers.CharField(required=False)
    licence_number = serializers.CharField(required=False)
    contact_name = serializers.CharField(required=False)
    contact_email = serializers.CharField(required=False)
    contact_phone = serializers.CharField(required=False)
    verified_at = serializers.DateTimeField(required=False, allow_null=True)
    verified_by = serializers.EmailField(required=False, allow_null=True)
    monitoring_enabled = serializers.BooleanField(required=False)
    sample_seconds = serializers.IntegerField(required=False)
    sample_interval_seconds = serializers.IntegerField(required=False)
    created_at = serializers.DateTimeField(required=False)
    updated_at = serializers.DateTimeField(required=False)

    class Meta(StationPublicOutput.Meta):
        fields = [
            *StationPublicOutput.Meta.fields,
            "timezone",
            "licence_number",
            "contact_name",
            "contact_email",
            "contact_phone",
            "verified_at",
            "verified_by",
            "monitoring_enabled",
            "sample_seconds",
            "sample_interval_seconds",
            "created_at",
            "updated_at",
        ]
        read_only_fields = StationPublicOutput.Meta.fields


class StationOutput(serializers.ModelSerializer):
    verified_by = serializers.EmailField(
        source="verified_by.email", default=None, read_only=True, allow_null=True
    )
    contact_email = serializers.CharField(read_only=True)  # often blank: not "email" format

    class Meta:
        model = Station
        fields = [
            "id",
            "name",
            "slug",
            "call_sign",
            "frequency",
            "region",
            "city",
            "country",
            "timezone",
            "station_class",
            "licence_number",
            "contact_name",
            "contact_email",
            "contact_phone",
            "is_verified",
            "verified_at",
            "verified_by",
            "monitoring_enabled",
            "sample_seconds",
            "sample_interval_seconds",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class StationInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    station_class = serializers.ChoiceField(choices=StationClass.choices)
    slug = serializers.SlugField(max_length=80, required=False)
    call_sign = serializers.CharField(max_length=20, required=False, allow_blank=True)
    frequency = serializers.CharField(max_length=40, required=False, allow_blank=True)
    region = serializers.CharField(max_length=80, required=False, allow_blank=True)
    city = serializers.CharField(max_length=80, required=False, allow_blank=True)
    country = serializers.CharField(min_length=2, max_length=2, required=False)
    timezone = serializers.CharField(max_length=64, required=False)
    licence_number = serializers.CharField(max_length=64, required=False, allow_blank=True)
    contact_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    contact_email = serializers.EmailField(required=False, allow_blank=True)
    contact_phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    sample_seconds = serializers.IntegerField(min_value=5, max_value=300, required=False)
    sample_interval_seconds = serializers.IntegerField(min_value=5, max_value=86400, required=False)


class StationUpdateInput(StationInput):
    slug = None  # a slug names the station in commands and URLs; it does not change


class EnabledInput(serializers.Serializer):
    enabled = serializers.BooleanField()


# --- People --------------------------------------------------------------------------------------
class MemberOutput(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)

    class Meta:
        model = StationStaff
        fields = ["id", "user", "email", "full_name", "role", "created_at"]
        read_only_fields = fields


class MemberInput(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=StationStaffRole.choices, default=StationStaffRole.STAFF)


class MemberRoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=StationStaffRole.choices)


# --- Stream links ---------------------------------------------------------------------------------
class StreamLinkOutput(serializers.ModelSerializer):
    class Meta:
        model = StreamLink
        fields = ["id", "station", "url", "kind", "enabled", "priority", "created_at", "updated_at"]
        read_only_fields = fields


class StreamLinkInput(serializers.Serializer):
    url = serializers.CharField(max_length=2048)
    kind = serializers.ChoiceField(choices=StreamLinkKind.choices, default=StreamLinkKind.PRIMARY)
    priority = serializers.IntegerField(min_value=0, max_value=100, default=0)


class StreamLinkUpdateInput(serializers.Serializer):
    url = serializers.CharField(max_length=2048, required=False)
    kind = serializers.ChoiceField(choices=StreamLinkKind.choices, required=False)
    priority = serializers.IntegerField(min_value=0, max_value=100, required=False)


# --- Playlogs -------------------------------------------------------------------------------
class PlaylogUploadInput(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(
        choices=PlaylogFormat.choices,
        required=False,
        allow_null=True,
        default=None,
        help_text="csv, json or xml; by default taken from the file name.",
    )


class RowRejectionOutput(serializers.Serializer):
    row = serializers.IntegerField()
    field = serializers.CharField(allow_blank=True)
    reason = serializers.CharField()


class PlaylogOutput(serializers.ModelSerializer):
    rejections = RowRejectionOutput(many=True)

    class Meta:
        model = StationPlaylog
        fields = [
            "id",
            "station_id",
            "file_format",
            "original_name",
            "size_bytes",
            "rows_total",
            "rows_accepted",
            "rows_rejected",
            "rejections",
            "first_started_at",
            "last_started_at",
            "created_at",
        ]


class PlaylogEntryOutput(serializers.ModelSerializer):
    class Meta:
        model = StationPlaylogEntry
        fields = [
            "id",
            "row_number",
            "title",
            "artist",
            "isrc",
            "started_at",
            "duration_seconds",
            "ended_at",
        ]


# --- Compliance -----------------------------------------------------------------------------
class ComplianceUploadInput(serializers.Serializer):
    file = serializers.FileField()
    document_type = serializers.ChoiceField(choices=ComplianceDocumentType.choices)
    period = serializers.RegexField(
        r"^\d{4}-(0[1-9]|1[0-2])$", help_text="The month the document is for: YYYY-MM."
    )


class ComplianceReviewInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=[ComplianceStatus.ACCEPTED, ComplianceStatus.REJECTED])
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ComplianceDocumentOutput(serializers.ModelSerializer):
    station = StationPublicOutput()

    class Meta:
        model = ComplianceDocument
        fields = [
            "id",
            "station",
            "document_type",
            "period",
            "original_name",
            "content_type",
            "size_bytes",
            "status",
            "review_note",
            "reviewed_at",
            "created_at",
        ]


class MissingMonthOutput(serializers.Serializer):
    period = serializers.DateField()
    document_types = serializers.ListField(child=serializers.CharField())


class MissingComplianceOutput(serializers.Serializer):
    station_id = serializers.IntegerField()
    station_name = serializers.CharField()
    missing = MissingMonthOutput(many=True)


class MissingQueryInput(serializers.Serializer):
    station = serializers.IntegerField(min_value=1, required=False)
    month_from = serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", required=False)
    month_to = serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", required=False)
