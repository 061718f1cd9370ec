from __future__ import annotations

import json

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tracks.models import (
    ContributorKind,
    ContributorRole,
    SplitVersion,
    Track,
    TrackImport,
)


class _NamedRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class TrackOutput(serializers.ModelSerializer):
    primary_artist = serializers.SerializerMethodField()
    featured_artists = serializers.SerializerMethodField()
    isrc = serializers.CharField(source="isrc_display")
    iswc = serializers.CharField(source="iswc_display")
    cover_url = serializers.SerializerMethodField()
    audio_url = serializers.SerializerMethodField()

    class Meta:
        model = Track
        fields = [
            "id",
            "title",
            "primary_artist",
            "featured_artists",
            "album",
            "genre",
            "release_date",
            "isrc",
            "iswc",
            "duration_seconds",
            "explicit",
            "cover_url",
            "audio_url",
            "audio_format",
            "audio_codec",
            "audio_size",
            "status",
            "rejection_reason",
            "submitted_at",
            "reviewed_at",
            "fingerprint_status",
            "fingerprint_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(_NamedRef)
    def get_primary_artist(self, obj):
        return {"id": obj.primary_artist_id, "name": obj.primary_artist.stage_name}

    @extend_schema_field(_NamedRef(many=True))
    def get_featured_artists(self, obj):
        # Prefetched by the selector: no query here.
        return [{"id": a.pk, "name": a.stage_name} for a in obj.featured_artists.all()]

    def get_cover_url(self, obj) -> str | None:
        if not obj.cover:
            return None
        request = self.context.get("request")
        url = obj.cover.url
        return request.build_absolute_uri(url) if request else url

    def get_audio_url(self, obj) -> str | None:
        # Masters are private: the authorised endpoint, never a storage URL.
        return f"/api/v1/tracks/{obj.pk}/audio/" if obj.audio else None


class TrackCreateInput(serializers.Serializer):
    title = serializers.CharField(max_length=300)
    primary_artist_id = serializers.IntegerField(
        required=False, min_value=1, help_text="Required for publishers and staff."
    )
    audio = serializers.FileField(allow_empty_file=True)
    cover = serializers.FileField(required=False, allow_empty_file=True)
    album = serializers.CharField(max_length=300, required=False, allow_blank=True)
    genre = serializers.CharField(max_length=60, required=False, allow_blank=True)
    release_date = serializers.DateField(required=False, allow_null=True)
    isrc = serializers.CharField(max_length=20, required=False, allow_blank=True)
    iswc = serializers.CharField(max_length=20, required=False, allow_blank=True)
    explicit = serializers.BooleanField(required=False, default=False)
    featured_artist_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=20
    )


class TrackUpdateInput(serializers.Serializer):
    title = serializers.CharField(max_length=300, required=False)
    album = serializers.CharField(max_length=300, required=False, allow_blank=True)
    genre = serializers.CharField(max_length=60, required=False, allow_blank=True)
    release_date = serializers.DateField(required=False, allow_null=True)
    isrc = serializers.CharField(max_length=20, required=False, allow_blank=True)
    iswc = serializers.CharField(max_length=20, required=False, allow_blank=True)
    explicit = serializers.BooleanField(required=False)
    featured_artist_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=20
    )


class AudioInput(serializers.Serializer):
    audio = serializers.FileField(allow_empty_file=True)


class CoverInput(serializers.Serializer):
    cover = serializers.FileField(allow_empty_file=True)


class TrackRejectInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class ShareInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=ContributorRole.choices)
    basis_points = serializers.IntegerField(min_value=1, max_value=10000)
    kind = serializers.ChoiceField(
        choices=ContributorKind.choices, required=False, default=ContributorKind.PERSON
    )
    artist_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    publisher_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    ipi = serializers.CharField(max_length=20, required=False, allow_blank=True)


class _JsonListField(serializers.ListField):
    """A list sent as JSON, or as a JSON string in a multipart form next to a file."""

    def get_value(self, dictionary):
        value = dictionary.get(self.field_name, serializers.empty)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value  # to_internal_value reports "not a list"
        return value


class SplitsSetInput(serializers.Serializer):
    shares = _JsonListField(child=ShareInputSerializer(), min_length=1, max_length=50)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True)
    split_sheet = serializers.FileField(required=False)


class ShareOutput(serializers.Serializer):
    contributor_id = serializers.IntegerField(source="contributor.id")
    name = serializers.CharField(source="contributor.name")
    kind = serializers.CharField(source="contributor.kind")
    artist_id = serializers.IntegerField(source="contributor.artist_id", allow_null=True)
    publisher_id = serializers.IntegerField(source="contributor.publisher_id", allow_null=True)
    ipi = serializers.CharField(source="contributor.ipi")
    role = serializers.CharField()
    basis_points = serializers.IntegerField()


class SplitVersionOutput(serializers.ModelSerializer):
    shares = ShareOutput(many=True, read_only=True)
    split_sheet_url = serializers.SerializerMethodField()

    class Meta:
        model = SplitVersion
        fields = [
            "id",
            "number",
            "effective_from",
            "total_bp",
            "note",
            "created_at",
            "split_sheet_url",
            "shares",
        ]
        read_only_fields = fields

    def get_split_sheet_url(self, obj) -> str | None:
        if not obj.split_sheet:
            return None
        return f"/api/v1/tracks/{obj.track_id}/splits/{obj.pk}/sheet/"


class ImportStartInput(serializers.Serializer):
    csv_file = serializers.FileField(required=False)
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True), required=False, max_length=1000
    )
    zip_file = serializers.FileField(required=False)
    submit = serializers.BooleanField(
        required=False, default=False, help_text="Submit created tracks with splits for review."
    )


class ImportOutput(serializers.ModelSerializer):
    class Meta:
        model = TrackImport
        fields = [
            "id",
            "status",
            "total_rows",
            "processed_rows",
            "created_count",
            "duplicate_count",
            "rejected_count",
            "submit_for_review",
            "results",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields
