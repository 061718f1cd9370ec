from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenRefreshView

from users import selectors, services
from users.api import serializers as s
from users.models import AuditLog, User
from users.permissions import AllowAnyone, IsAuthenticatedUser, IsSuperadmin, has_staff_role
from users.throttles import AuthThrottle
from zamio.filters import IsoDateTimeFilter


def _detail(message: str, code: int = status.HTTP_200_OK) -> Response:
    return Response({"detail": message}, status=code)


class RegisterApi(APIView):
    permission_classes = [AllowAnyone]
    throttle_classes = [AuthThrottle]

    @extend_schema(request=s.RegisterInput, responses={201: s.UserOutput}, tags=["auth"])
    def post(self, request):
        data = s.RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        return Response(s.UserOutput(user).data, status=status.HTTP_201_CREATED)


class EmailVerifyApi(APIView):
    permission_classes = [AllowAnyone]
    throttle_classes = [AuthThrottle]

    @extend_schema(request=s.TokenInput, responses={200: s.UserOutput}, tags=["auth"])
    def post(self, request):
        data = s.TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.email_verify(token=data.validated_data["token"])
        return Response(s.UserOutput(user).data)


class EmailVerifyResendApi(APIView):
    permission_classes = [AllowAnyone]
    throttle_classes = [AuthThrottle]

    @extend_schema(request=s.EmailInput, responses={202: s.DetailOutput}, tags=["auth"])
    def post(self, request):
        data = s.EmailInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.email_verification_resend(email=data.validated_data["email"])
        return _detail(
            "If the account exists and is unverified, a new link is on its way.",
            status.HTTP_202_ACCEPTED,
        )


class LoginApi(APIView):
    permission_classes = [AllowAnyone]
    throttle_classes = [AuthThrottle]

    @extend_schema(request=s.LoginInput, responses={200: s.LoginOutput}, tags=["auth"])
    def post(self, request):
        data = s.LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.login(**data.validated_data)
        if result.otp_challenge is not None:
            return Response({"otp_required": True, "challenge_id": result.otp_challenge.pk})
        return Response(
            {"otp_required": False, **result.tokens, "user": s.UserOutput(result.user).data}
        )


class LoginOtpApi(APIView):
    permission_classes = [AllowAnyone]
    throttle_classes = [AuthThrottle]

    @extend_schema(request=s.LoginOtpInput, responses={200: s.TokenPairOutput}, tags=["auth"])
    def post(self, request):
        data = s.LoginOtpInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.login_otp_confirm(**data.validated_data)
        return Response({**result.tokens, "user": s.UserOutput(result.user).data})


class TokenRefreshApi(TokenRefreshView):
    """Rotates the refresh token: the old one is blacklisted, a new pair is returned."""

    permission_classes = [AllowAnyone]

    @extend_schema(tags=["auth"])
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class LogoutApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(request=s.RefreshInput, responses={200: s.DetailOutput}, tags=["auth"])
    def post(self, request):
        data = s.RefreshInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.logout(user=request.user, refresh=data.validated_data["refresh"])
        return _detail("Signed out.")


class PasswordResetApi(APIView):
    permission_classes = [AllowAnyone]
    throttle_classes = [AuthThrottle]

    @extend_schema(request=s.EmailInput, responses={202: s.DetailOutput}, tags=["auth"])
    def post(self, request):
        data = s.EmailInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_request(email=data.validated_data["email"])
        return _detail(
            "If the account exists, a reset link is on its way.", status.HTTP_202_ACCEPTED
        )


class PasswordResetConfirmApi(APIView):
    permission_classes = [AllowAnyone]
    throttle_classes = [AuthThrottle]

    @extend_schema(
        request=s.PasswordResetConfirmInput, responses={200: s.DetailOutput}, tags=["auth"]
    )
    def post(self, request):
        data = s.PasswordResetConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_confirm(**data.validated_data)
        return _detail("Your password has been changed. Sign in again.")


class OtpRequestApi(APIView):
    permission_classes = [IsAuthenticatedUser]
    throttle_classes = [AuthThrottle]

    @extend_schema(request=s.OtpRequestInput, responses={201: s.OtpRequestOutput}, tags=["auth"])
    def post(self, request):
        data = s.OtpRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        challenge = services.otp_request(user=request.user, **data.validated_data)
        return Response(s.OtpRequestOutput(challenge).data, status=status.HTTP_201_CREATED)


class PhoneVerifyApi(APIView):
    permission_classes = [IsAuthenticatedUser]
    throttle_classes = [AuthThrottle]

    @extend_schema(request=s.OtpVerifyInput, responses={200: s.UserOutput}, tags=["auth"])
    def post(self, request):
        data = s.OtpVerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.otp_verify(user=request.user, **data.validated_data)
        request.user.refresh_from_db()
        return Response(s.UserOutput(request.user).data)


class MeApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(responses={200: s.UserOutput}, tags=["auth"])
    def get(self, request):
        return Response(s.UserOutput(request.user).data)

    @extend_schema(request=s.ProfileUpdateInput, responses={200: s.UserOutput}, tags=["auth"])
    def patch(self, request):
        data = s.ProfileUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.user_update_profile(user=request.user, **data.validated_data)
        return Response(s.UserOutput(user).data)


class UserFilter(django_filters.FilterSet):
    email = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = User
        fields = ["role", "staff_role", "is_active", "email"]


class UserListCreateApi(generics.ListAPIView):
    """Staff list of accounts; superadmins also create staff accounts here."""

    permission_classes = [has_staff_role("support")]
    serializer_class = s.UserOutput
    filterset_class = UserFilter
    ordering_fields = ["id", "email", "date_joined"]

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsSuperadmin()]
        return super().get_permissions()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return User.objects.none()
        return selectors.users_visible_to(user=self.request.user)

    @extend_schema(request=s.AdminUserCreateInput, responses={201: s.UserOutput}, tags=["users"])
    def post(self, request):
        data = s.AdminUserCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.admin_user_create(actor=request.user, **data.validated_data)
        return Response(s.UserOutput(user).data, status=status.HTTP_201_CREATED)


class _UserObjectApi(APIView):
    permission_classes = [IsSuperadmin]

    def get_user(self, pk: int):
        return generics.get_object_or_404(selectors.users_visible_to(user=self.request.user), pk=pk)


class UserRoleApi(_UserObjectApi):
    @extend_schema(request=s.UserRoleInput, responses={200: s.UserOutput}, tags=["users"])
    def post(self, request, pk: int):
        data = s.UserRoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_change_role(
            actor=request.user, user=self.get_user(pk), **data.validated_data
        )
        return Response(s.UserOutput(user).data)


class UserActiveApi(_UserObjectApi):
    @extend_schema(request=s.UserActiveInput, responses={200: s.UserOutput}, tags=["users"])
    def post(self, request, pk: int):
        data = s.UserActiveInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_set_active(
            actor=request.user, user=self.get_user(pk), **data.validated_data
        )
        return Response(s.UserOutput(user).data)


class AuditLogFilter(django_filters.FilterSet):
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditLog
        fields = ["action", "actor", "target_type", "target_id"]


class AuditLogListApi(generics.ListAPIView):
    permission_classes = [has_staff_role("support")]
    serializer_class = s.AuditLogOutput
    filterset_class = AuditLogFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AuditLog.objects.none()
        return selectors.audit_log_visible_to(user=self.request.user)

    @extend_schema(tags=["users"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
