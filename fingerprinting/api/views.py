from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from fingerprinting import services
from fingerprinting.api import serializers as s
from fingerprinting.engine import FingerprintError
from users.models import Role
from users.permissions import has_role
from zamio.errors import ValidationFailed


class ClipIdentifyApi(APIView):
    """Which catalogue tracks does this clip contain? For staff and stations checking audio."""

    permission_classes = [has_role(Role.ADMIN, Role.STATION)]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": s.IdentifyInput},
        responses={200: s.IdentificationOutput(many=True)},
        tags=["fingerprinting"],
    )
    def post(self, request):
        data = s.IdentifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        clip = data.validated_data["clip"]
        threshold = data.validated_data.get("threshold", settings.FINGERPRINT_VERIFIED_THRESHOLD)
        try:
            matches = services.source_identify(clip.read(), name=clip.name, threshold=threshold)
        except FingerprintError as exc:
            raise ValidationFailed(
                str(exc), details={"clip": [str(exc)]}, code="bad_audio"
            ) from None
        found = services.identifications_for(matches)
        return Response([f.as_dict() for f in found])
