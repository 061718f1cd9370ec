from __future__ import annotations

import django_filters
from django.http import FileResponse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from artists import selectors, services
from artists.api import serializers as s
from artists.models import (
    Artist,
    KycSubmission,
    Publisher,
    PublisherArtistRelationship,
)
from artists.services import KYC_FILE_SIGNATURES
from users.models import Role
from users.permissions import (
    IsArtist,
    IsAuthenticatedUser,
    IsPublisher,
    IsStaff,
    has_role,
    has_staff_role,
)
from zamio.errors import Forbidden, NotFound
from zamio.schema import file_responses

IsArtistOrPublisher = has_role(Role.ARTIST, Role.PUBLISHER)
IsCatalogueUser = has_role(Role.ARTIST, Role.PUBLISHER, Role.ADMIN)
IsKycReviewer = has_staff_role("support")


def _fake(view) -> bool:
    return getattr(view, "swagger_fake_view", False)


# --- Artist profile ---------------------------------------------------------------------
class ArtistMeApi(APIView):
    """The logged-in artist's own profile (onboarding creates it here)."""

    permission_classes = [IsArtist]

    @extend_schema(responses={200: s.ArtistOutput}, tags=["artists"])
    def get(self, request):
        return Response(s.ArtistOutput(selectors.artist_of_user(user=request.user)).data)

    @extend_schema(request=s.ArtistInput, responses={201: s.ArtistOutput}, tags=["artists"])
    def post(self, request):
        data = s.ArtistInput(data=request.data)
        data.is_valid(raise_exception=True)
        artist = services.artist_profile_create(user=request.user, **data.validated_data)
        return Response(s.ArtistOutput(artist).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.ArtistInput(partial=True), responses={200: s.ArtistOutput}, tags=["artists"]
    )
    def patch(self, request):
        data = s.ArtistInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        artist = services.artist_profile_update(
            actor=request.user,
            artist=selectors.artist_of_user(user=request.user),
            **data.validated_data,
        )
        return Response(s.ArtistOutput(artist).data)


class ArtistFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="stage_name", lookup_expr="icontains")

    class Meta:
        model = Artist
        fields = ["country", "pro_affiliation", "self_published", "q"]


class ArtistListApi(generics.ListAPIView):
    """Artists the caller may see: staff all, a publisher those it represents, an artist itself."""

    permission_classes = [IsCatalogueUser]
    serializer_class = s.ArtistOutput
    filterset_class = ArtistFilter
    ordering_fields = ["stage_name", "created_at", "id"]

    def get_queryset(self):
        if _fake(self):
            return Artist.objects.none()
        return selectors.artists_visible_to(user=self.request.user)

    @extend_schema(tags=["artists"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ArtistDetailApi(APIView):
    permission_classes = [IsCatalogueUser]

    def _get(self, request, pk: int) -> Artist:
        artist = selectors.artists_visible_to(user=request.user).filter(pk=pk).first()
        if artist is None:
            raise NotFound("No such artist.")
        return artist

    @extend_schema(responses={200: s.ArtistOutput}, tags=["artists"])
    def get(self, request, pk: int):
        return Response(s.ArtistOutput(self._get(request, pk)).data)

    @extend_schema(
        request=s.ArtistInput(partial=True), responses={200: s.ArtistOutput}, tags=["artists"]
    )
    def patch(self, request, pk: int):
        artist = self._get(request, pk)
        if not selectors.artists_editable_by(user=request.user).filter(pk=pk).exists():
            raise Forbidden("Only the artist and staff edit this profile.")
        data = s.ArtistInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        artist = services.artist_profile_update(
            actor=request.user, artist=artist, **data.validated_data
        )
        return Response(s.ArtistOutput(artist).data)


# --- Publisher profile ---------------------------------------------------------------------
class PublisherMeApi(APIView):
    permission_classes = [IsPublisher]

    @extend_schema(responses={200: s.PublisherOutput}, tags=["publishers"])
    def get(self, request):
        return Response(s.PublisherOutput(selectors.publisher_of_user(user=request.user)).data)

    @extend_schema(
        request=s.PublisherInput, responses={201: s.PublisherOutput}, tags=["publishers"]
    )
    def post(self, request):
        data = s.PublisherInput(data=request.data)
        data.is_valid(raise_exception=True)
        publisher = services.publisher_profile_create(user=request.user, **data.validated_data)
        return Response(s.PublisherOutput(publisher).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.PublisherInput(partial=True),
        responses={200: s.PublisherOutput},
        tags=["publishers"],
    )
    def patch(self, request):
        data = s.PublisherInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        publisher = services.publisher_profile_update(
            actor=request.user,
            publisher=selectors.publisher_of_user(user=request.user),
            **data.validated_data,
        )
        return Response(s.PublisherOutput(publisher).data)


class PublisherFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Publisher
        fields = ["country", "q"]


class PublisherListApi(generics.ListAPIView):
    permission_classes = [IsCatalogueUser]
    serializer_class = s.PublisherOutput
    filterset_class = PublisherFilter
    ordering_fields = ["name", "created_at", "id"]

    def get_queryset(self):
        if _fake(self):
            return Publisher.objects.none()
        return selectors.publishers_visible_to(user=self.request.user)

    @extend_schema(tags=["publishers"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PublisherDirectoryApi(generics.ListAPIView):
    """Names only, so an artist can find a publisher to propose a deal to."""

    permission_classes = [IsCatalogueUser]
    serializer_class = s.PublisherDirectoryOutput
    filterset_class = PublisherFilter

    def get_queryset(self):
        return selectors.publisher_directory()

    @extend_schema(tags=["publishers"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PublisherDetailApi(APIView):
    permission_classes = [IsCatalogueUser]

    def _get(self, request, pk: int) -> Publisher:
        publisher = selectors.publishers_visible_to(user=request.user).filter(pk=pk).first()
        if publisher is None:
            raise NotFound("No such publisher.")
        return publisher

    @extend_schema(responses={200: s.PublisherOutput}, tags=["publishers"])
    def get(self, request, pk: int):
        return Response(s.PublisherOutput(self._get(request, pk)).data)

    @extend_schema(
        request=s.PublisherInput(partial=True),
        responses={200: s.PublisherOutput},
        tags=["publishers"],
    )
    def patch(self, request, pk: int):
        publisher = self._get(request, pk)
        data = s.PublisherInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        publisher = services.publisher_profile_update(
            actor=request.user, publisher=publisher, **data.validated_data
        )
        return Response(s.PublisherOutput(publisher).data)


# --- Relationships ---------------------------------------------------------------------------
class RelationshipFilter(django_filters.FilterSet):
    class Meta:
        model = PublisherArtistRelationship
        fields = ["status", "kind", "artist", "publisher"]


class RelationshipListApi(generics.ListAPIView):
    """The caller's publishing deals; an artist or publisher proposes a new one with POST."""

    permission_classes = [IsCatalogueUser]
    serializer_class = s.RelationshipOutput
    filterset_class = RelationshipFilter
    ordering_fields = ["created_at", "start_date", "id"]

    def get_queryset(self):
        if _fake(self):
            return PublisherArtistRelationship.objects.none()
        return selectors.relationships_visible_to(user=self.request.user)

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsArtistOrPublisher()]
        return super().get_permissions()

    @extend_schema(tags=["publishers"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.RelationshipProposeInput,
        responses={201: s.RelationshipOutput},
        tags=["publishers"],
    )
    def post(self, request):
        data = s.RelationshipProposeInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        artist_id = values.pop("artist_id", None)
        publisher_id = values.pop("publisher_id", None)
        artist = Artist.objects.filter(pk=artist_id).first() if artist_id else None
        publisher = Publisher.objects.filter(pk=publisher_id).first() if publisher_id else None
        if artist_id and artist is None:
            raise NotFound("No such artist.")
        if publisher_id and publisher is None:
            raise NotFound("No such publisher.")
        relationship = services.relationship_propose(
            actor=request.user, artist=artist, publisher=publisher, **values
        )
        return Response(s.RelationshipOutput(relationship).data, status=status.HTTP_201_CREATED)


class RelationshipDetailApi(APIView):
    permission_classes = [IsCatalogueUser]

    @extend_schema(responses={200: s.RelationshipOutput}, tags=["publishers"])
    def get(self, request, pk: int):
        relationship = selectors.relationship_get(user=request.user, relationship_id=pk)
        return Response(s.RelationshipOutput(relationship).data)


def _relationship_respond(request, pk: int, act, input_class=s.ReasonInput) -> Response:
    relationship = selectors.relationship_get(user=request.user, relationship_id=pk)
    data = input_class(data=request.data)
    data.is_valid(raise_exception=True)
    relationship = act(relationship, data.validated_data.get("reason", ""))
    return Response(s.RelationshipOutput(relationship).data)


class RelationshipAcceptApi(APIView):
    permission_classes = [IsArtistOrPublisher]

    @extend_schema(request=None, responses={200: s.RelationshipOutput}, tags=["publishers"])
    def post(self, request, pk: int):
        return _relationship_respond(
            request,
            pk,
            lambda rel, _: services.relationship_accept(actor=request.user, relationship=rel),
        )


class RelationshipDeclineApi(APIView):
    permission_classes = [IsArtistOrPublisher]

    @extend_schema(
        request=s.ReasonInput, responses={200: s.RelationshipOutput}, tags=["publishers"]
    )
    def post(self, request, pk: int):
        return _relationship_respond(
            request,
            pk,
            lambda rel, reason: services.relationship_decline(
                actor=request.user, relationship=rel, reason=reason
            ),
        )


class RelationshipTerminateApi(APIView):
    permission_classes = [IsCatalogueUser]

    @extend_schema(
        request=s.RequiredReasonInput, responses={200: s.RelationshipOutput}, tags=["publishers"]
    )
    def post(self, request, pk: int):
        return _relationship_respond(
            request,
            pk,
            lambda rel, reason: services.relationship_terminate(
                actor=request.user, relationship=rel, reason=reason
            ),
            s.RequiredReasonInput,
        )


class RelationshipSuspendApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        request=s.RequiredReasonInput, responses={200: s.RelationshipOutput}, tags=["publishers"]
    )
    def post(self, request, pk: int):
        return _relationship_respond(
            request,
            pk,
            lambda rel, reason: services.relationship_suspend(
                actor=request.user, relationship=rel, reason=reason
            ),
            s.RequiredReasonInput,
        )


class RelationshipReinstateApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(request=None, responses={200: s.RelationshipOutput}, tags=["publishers"])
    def post(self, request, pk: int):
        return _relationship_respond(
            request,
            pk,
            lambda rel, _: services.relationship_reinstate(actor=request.user, relationship=rel),
        )


# --- KYC -------------------------------------------------------------------------------------
class KycFilter(django_filters.FilterSet):
    class Meta:
        model = KycSubmission
        fields = ["status", "id_type", "user"]


class KycListApi(generics.ListAPIView):
    """Own KYC submissions (staff: all, filter status=submitted for the review queue);
    artists and publishers submit with a multipart POST."""

    permission_classes = [IsCatalogueUser]
    serializer_class = s.KycSubmissionOutput
    filterset_class = KycFilter
    ordering_fields = ["created_at", "id"]
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        if _fake(self):
            return KycSubmission.objects.none()
        return selectors.kyc_submissions_visible_to(user=self.request.user)

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsArtistOrPublisher()]
        return super().get_permissions()

    @extend_schema(tags=["kyc"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.KycSubmitInput, responses={201: s.KycSubmissionOutput}, tags=["kyc"])
    def post(self, request):
        data = s.KycSubmitInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        documents = [
            services.KycFile(kind=kind, file=values.pop(kind))
            for kind in s.KycSubmitInput.DOCUMENT_FIELDS
            if values.get(kind) is not None
        ]
        for kind in s.KycSubmitInput.DOCUMENT_FIELDS:
            values.pop(kind, None)
        submission = services.kyc_submit(user=request.user, documents=documents, **values)
        return Response(s.KycSubmissionOutput(submission).data, status=status.HTTP_201_CREATED)


class KycDetailApi(APIView):
    permission_classes = [IsCatalogueUser]

    @extend_schema(responses={200: s.KycSubmissionOutput}, tags=["kyc"])
    def get(self, request, pk: int):
        submission = selectors.kyc_submission_get(user=request.user, submission_id=pk)
        return Response(s.KycSubmissionOutput(submission).data)


class KycApproveApi(APIView):
    permission_classes = [IsKycReviewer]

    @extend_schema(request=None, responses={200: s.KycSubmissionOutput}, tags=["kyc"])
    def post(self, request, pk: int):
        submission = selectors.kyc_submission_get(user=request.user, submission_id=pk)
        submission = services.kyc_approve(actor=request.user, submission=submission)
        return Response(s.KycSubmissionOutput(submission).data)


class KycRejectApi(APIView):
    permission_classes = [IsKycReviewer]

    @extend_schema(
        request=s.RequiredReasonInput, responses={200: s.KycSubmissionOutput}, tags=["kyc"]
    )
    def post(self, request, pk: int):
        data = s.RequiredReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        submission = selectors.kyc_submission_get(user=request.user, submission_id=pk)
        submission = services.kyc_reject(
            actor=request.user, submission=submission, reason=data.validated_data["reason"]
        )
        return Response(s.KycSubmissionOutput(submission).data)


class KycDocumentFileApi(APIView):
    """Streams a KYC document to its owner or staff; to anyone else it does not exist."""

    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        responses=file_responses(
            [kind for kind, _suffix in KYC_FILE_SIGNATURES.values()], description="The document."
        ),
        tags=["kyc"],
    )
    def get(self, request, pk: int):
        document = selectors.kyc_document_get(user=request.user, document_id=pk)
        response = FileResponse(
            document.file.open("rb"),
            content_type=document.content_type,
            as_attachment=True,
            filename=f"kyc-{document.submission_id}-{document.kind}{_suffix(document.file.name)}",
        )
        response["Cache-Control"] = "private, no-store"
        return response


def _suffix(name: str) -> str:
    return name[name.rfind(".") :] if "." in name else ""


# --- Payout details ----------------------------------------------------------------------------
class PayoutDetailsMeApi(APIView):
    """The caller's MoMo payout number. Changing it needs an SMS code
    (POST /api/v1/auth/otp/ with purpose payout_details first)."""

    permission_classes = [IsArtistOrPublisher]
    parser_classes = [JSONParser, FormParser]

    def _output(self, request, details):
        return s.PayoutDetailsOutput(
            {
                "msisdn": details.msisdn,
                "network": details.network,
                "account_name": details.account_name,
                "changed_at": details.changed_at,
                "kyc_status": selectors.kyc_status_of(user=request.user),
            }
        ).data

    @extend_schema(responses={200: s.PayoutDetailsOutput}, tags=["kyc"])
    def get(self, request):
        details = selectors.payout_details_of(user=request.user)
        if details is None:
            raise NotFound("You have no payout details yet.", code="payout_details_missing")
        return Response(self._output(request, details))

    @extend_schema(
        request=s.PayoutDetailsInput, responses={200: s.PayoutDetailsOutput}, tags=["kyc"]
    )
    def put(self, request):
        data = s.PayoutDetailsInput(data=request.data)
        data.is_valid(raise_exception=True)
        details = services.payout_details_set(user=request.user, **data.validated_data)
        return Response(self._output(request, details))
