from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from artists.models import (
    Artist,
    IdType,
    KycDocument,
    KycDocumentKind,
    KycSubmission,
    MomoNetwork,
    Publisher,
    PublisherArtistRelationship,
    RelationshipKind,
)

# --- Profiles ---------------------------------------------------------------------


class ArtistInput(serializers.Serializer):
    stage_name = serializers.CharField(max_length=200)
    legal_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    bio = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    socials = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    location = serializers.CharField(max_length=120, required=False, allow_blank=True)
    region = serializers.CharField(max_length=120, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, min_length=2, required=False)
    pro_affiliation = serializers.CharField(max_length=40, required=False, allow_blank=True)
    ipi_number = serializers.CharField(max_length=20, required=False, allow_blank=True)


class ArtistOutput(serializers.ModelSerializer):
    class Meta:
        model = Artist
        fields = [
            "id",
            "user",
            "stage_name",
            "legal_name",
            "bio",
            "socials",
            "location",
            "region",
            "country",
            "pro_affiliation",
            "ipi_number",
            "self_published",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PublisherInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    company_registration_number = serializers.CharField(
        max_length=60, required=False, allow_blank=True
    )
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    website = serializers.URLField(required=False, allow_blank=True)
    location = serializers.CharField(max_length=120, required=False, allow_blank=True)
    region = serializers.CharField(max_length=120, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, min_length=2, required=False)
    pro_affiliation = serializers.CharField(max_length=40, required=False, allow_blank=True)
    ipi_number = serializers.CharField(max_length=20, required=False, allow_blank=True)


class PublisherOutput(serializers.ModelSerializer):
    # Often blank: a plain string, not a URI, in the schema.
    website = serializers.CharField(read_only=True)

    class Meta:
        model = Publisher
        fields = [
            "id",
            "user",
            "name",
            "company_registration_number",
            "description",
            "website",
            "location",
            "region",
            "country",
            "pro_affiliation",
            "ipi_number",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PublisherDirectoryOutput(serializers.ModelSerializer):
    class Meta:
        model = Publisher
        fields = ["id", "name", "country", "pro_affiliation"]
        read_only_fields = fields


# --- Relationships ------------------------------------------------------------------


class RelationshipProposeInput(serializers.Serializer):
    artist_id = serializers.IntegerField(required=False, min_value=1)
    publisher_id = serializers.IntegerField(required=False, min_value=1)
    kind = serializers.ChoiceField(choices=RelationshipKind.choices)
    share_bp = serializers.IntegerField(min_value=0, max_value=10000)
    start_date = serializers.DateField()
    end_date = serializers.DateField(required=False, allow_null=True)
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class RequiredReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class _PartyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RelationshipOutput(serializers.ModelSerializer):
    artist = serializers.SerializerMethodField()
    publisher = serializers.SerializerMethodField()

    class Meta:
        model = PublisherArtistRelationship
        fields = [
            "id",
            "artist",
            "publisher",
            "kind",
            "status",
            "share_bp",
            "start_date",
            "end_date",
            "proposed_by",
            "notes",
            "status_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(_PartyOutput)
    def get_artist(self, obj):
        return {"id": obj.artist_id, "name": obj.artist.stage_name}

    @extend_schema_field(_PartyOutput)
    def get_publisher(self, obj):
        return {"id": obj.publisher_id, "name": obj.publisher.name}


# --- KYC and payout details -----------------------------------------------------------


class KycSubmitInput(serializers.Serializer):
    id_type = serializers.ChoiceField(choices=IdType.choices)
    id_number = serializers.CharField(max_length=40)
    tax_id = serializers.CharField(max_length=20, required=False, allow_blank=True)
    id_front = serializers.FileField(required=False)
    id_back = serializers.FileField(required=False)
    selfie = serializers.FileField(required=False)
    proof_of_address = serializers.FileField(required=False)
    business_registration = serializers.FileField(required=False)
    other = serializers.FileField(required=False)

    DOCUMENT_FIELDS = tuple(KycDocumentKind.values)


class KycDocumentOutput(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = KycDocument
        fields = ["id", "kind", "content_type", "size", "created_at", "download_url"]
        read_only_fields = fields

    def get_download_url(self, obj) -> str:
        # The only way to the file: an authorised endpoint, never a storage URL.
        return f"/api/v1/kyc/documents/{obj.pk}/file/"


class KycSubmissionOutput(serializers.ModelSerializer):
    documents = KycDocumentOutput(many=True, read_only=True)
    user_email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = KycSubmission
        fields = [
            "id",
            "user",
            "user_email",
            "id_type",
            "id_number",
            "tax_id",
            "status",
            "rejection_reason",
            "decided_by",
            "decided_at",
            "documents",
            "created_at",
        ]
        read_only_fields = fields


class PayoutDetailsInput(serializers.Serializer):
    msisdn = serializers.CharField(max_length=20)
    network = serializers.ChoiceField(choices=MomoNetwork.choices)
    account_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    otp_code = serializers.RegexField(r"^[0-9]{6}$")


class PayoutDetailsOutput(serializers.Serializer):
    msisdn = serializers.CharField()
    network = serializers.CharField()
    account_name = serializers.CharField()
    changed_at = serializers.DateTimeField()
    kyc_status = serializers.CharField()
