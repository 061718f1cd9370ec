from rest_framework import serializers

from users.models import SELF_REGISTRABLE_ROLE_CHOICES, AuditLog, OtpPurpose, Role, StaffRole, User


class RegisterInput(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, min_length=8, max_length=128)
    role = serializers.ChoiceField(choices=SELF_REGISTRABLE_ROLE_CHOICES)
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    phone = serializers.RegexField(r"^\+?[0-9]{9,15}$", required=False, allow_blank=True)


class UserOutput(serializers.ModelSerializer):
    email_verified = serializers.BooleanField(read_only=True)
    # Blank for everyone but staff (the schema must say so).
    staff_role = serializers.ChoiceField(
        choices=StaffRole.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "full_name",
            "phone",
            "role",
            "staff_role",
            "is_active",
            "email_verified",
            "otp_login_enabled",
            "date_joined",
        ]
        read_only_fields = fields


class LoginInput(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(max_length=128)


class TokenPairOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    user = UserOutput()


class LoginOutput(serializers.Serializer):
    access = serializers.CharField(required=False)
    refresh = serializers.CharField(required=False)
    user = UserOutput(required=False)
    otp_required = serializers.BooleanField()
    challenge_id = serializers.IntegerField(required=False)


class LoginOtpInput(serializers.Serializer):
    challenge_id = serializers.IntegerField(min_value=1)
    code = serializers.RegexField(r"^[0-9]{6}$")


class RefreshInput(serializers.Serializer):
    refresh = serializers.CharField()


class TokenInput(serializers.Serializer):
    token = serializers.CharField(max_length=200)


class EmailInput(serializers.Serializer):
    email = serializers.EmailField()


class PasswordResetConfirmInput(serializers.Serializer):
    token = serializers.CharField(max_length=200)
    new_password = serializers.CharField(min_length=8, max_length=128)


class OtpRequestInput(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=[OtpPurpose.PAYOUT_DETAILS, OtpPurpose.PHONE_VERIFY])


class OtpRequestOutput(serializers.Serializer):
    challenge_id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    sent_to = serializers.CharField()


class OtpVerifyInput(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=[OtpPurpose.PHONE_VERIFY])
    code = serializers.RegexField(r"^[0-9]{6}$")


class ProfileUpdateInput(serializers.Serializer):
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    phone = serializers.RegexField(r"^\+?[0-9]{9,15}$", required=False, allow_blank=True)
    otp_login_enabled = serializers.BooleanField(required=False)


class AdminUserCreateInput(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(min_length=8, max_length=128, write_only=True)
    staff_role = serializers.ChoiceField(choices=StaffRole.choices)
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class UserRoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
    staff_role = serializers.ChoiceField(
        choices=StaffRole.choices, required=False, allow_blank=True
    )


class UserActiveInput(serializers.Serializer):
    is_active = serializers.BooleanField()


class AuditLogOutput(serializers.ModelSerializer):
    class Meta:
        model = AuditLog
        fields = [
            "id",
            "actor",
            "actor_email",
            "action",
            "target_type",
            "target_id",
            "ip",
            "user_agent",
            "trace_id",
            "before",
            "after",
            "created_at",
        ]
        read_only_fields = fields


class DetailOutput(serializers.Serializer):
    detail = serializers.CharField()
