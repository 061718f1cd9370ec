from django.urls import path

from users.api import views

urlpatterns = [
    path("auth/register/", views.RegisterApi.as_view(), name="auth-register"),
    path("auth/verify-email/", views.EmailVerifyApi.as_view(), name="auth-verify-email"),
    path(
        "auth/verify-email/resend/",
        views.EmailVerifyResendApi.as_view(),
        name="auth-verify-email-resend",
    ),
    path("auth/login/", views.LoginApi.as_view(), name="auth-login"),
    path("auth/login/otp/", views.LoginOtpApi.as_view(), name="auth-login-otp"),
    path("auth/token/refresh/", views.TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("auth/logout/", views.LogoutApi.as_view(), name="auth-logout"),
    path("auth/password-reset/", views.PasswordResetApi.as_view(), name="auth-password-reset"),
    path(
        "auth/password-reset/confirm/",
        views.PasswordResetConfirmApi.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("auth/otp/", views.OtpRequestApi.as_view(), name="auth-otp-request"),
    path("auth/phone/verify/", views.PhoneVerifyApi.as_view(), name="auth-phone-verify"),
    path("auth/me/", views.MeApi.as_view(), name="auth-me"),
    path("users/", views.UserListCreateApi.as_view(), name="users-list"),
    path("users/<int:pk>/role/", views.UserRoleApi.as_view(), name="users-role"),
    path("users/<int:pk>/active/", views.UserActiveApi.as_view(), name="users-active"),
    path("audit-log/", views.AuditLogListApi.as_view(), name="audit-log"),
]
