from __future__ import annotations

import django_filters
from django.core import signing
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import selectors, services
from notifications.api import serializers as s
from notifications.messages import unsubscribe_token_read
from notifications.models import Notification, NotificationKind
from users.permissions import AllowAnyone, IsAuthenticatedUser
from zamio.errors import ValidationFailed
from zamio.filters import IsoDateTimeFilter


class NotificationFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(
        field_name="read_at", lookup_expr="isnull", label="Only unread (true) or only read (false)"
    )
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Notification
        fields = ["unread", "kind", "priority", "created_after"]


class NotificationListApi(generics.ListAPIView):
    """The caller's notifications, newest first."""

    permission_classes = [IsAuthenticatedUser]
    serializer_class = s.NotificationOutput
    filterset_class = NotificationFilter
    ordering_fields = ["created_at", "priority"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Notification.objects.none()
        return selectors.notifications_visible_to(user=self.request.user)

    @extend_schema(tags=["notifications"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class NotificationUnreadCountApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(responses={200: s.UnreadCountOutput}, tags=["notifications"])
    def get(self, request):
        return Response({"unread": selectors.notification_unread_count(user=request.user)})


class NotificationReadApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(request=None, responses={200: s.NotificationOutput}, tags=["notifications"])
    def post(self, request, pk: int):
        notification = generics.get_object_or_404(
            selectors.notifications_visible_to(user=request.user), pk=pk
        )
        notification = services.notification_mark_read(notification=notification)
        return Response(s.NotificationOutput(notification).data)


class NotificationReadAllApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(request=None, responses={200: s.MarkAllReadOutput}, tags=["notifications"])
    def post(self, request):
        marked = services.notifications_mark_all_read(user=request.user)
        unread = selectors.notification_unread_count(user=request.user)
        return Response({"marked": marked, "unread": unread})


def _preferences_data(choices) -> list[dict]:
    return [
        {
            "kind": c.kind,
            "label": NotificationKind(c.kind).label,
            "email": c.email,
            "sms": c.sms,
            "websocket": c.websocket,
            "locked": c.locked,
        }
        for c in choices.values()
    ]


class NotificationPreferencesApi(APIView):
    """Which channels each kind of notification uses for the caller."""

    permission_classes = [IsAuthenticatedUser]

    @extend_schema(responses={200: s.PreferenceOutput(many=True)}, tags=["notifications"])
    def get(self, request):
        choices = selectors.channel_choices_for(user=request.user)
        return Response(s.PreferenceOutput(_preferences_data(choices), many=True).data)

    @extend_schema(
        request=s.PreferencesUpdateInput,
        responses={200: s.PreferenceOutput(many=True)},
        tags=["notifications"],
    )
    def patch(self, request):
        data = s.PreferencesUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        choices = services.preferences_update(
            user=request.user, changes=data.validated_data["preferences"]
        )
        return Response(s.PreferenceOutput(_preferences_data(choices), many=True).data)


class UnsubscribeHtmlRenderer(TemplateHTMLRenderer):
    """A person clicking the link in an email gets a page, not JSON (errors included)."""

    template_name = "notifications/unsubscribe.html"
    exception_template_names = ["notifications/unsubscribe.html"]


# JSON for API clients; the page (?format=html, or a browser) for people, errors included.
_UNSUBSCRIBE_RESPONSES = {
    (200, "application/json"): s.UnsubscribeOutput,
    (200, "text/html"): OpenApiTypes.STR,
    (400, "text/html"): OpenApiTypes.STR,
}
_TOKEN_PARAM = OpenApiParameter("token", str, required=True, description="From the email link.")


class NotificationUnsubscribeApi(APIView):
    """The unsubscribe link of every email: GET shows what it turns off, POST turns it off.

    No login: the signed token names the user and kind. POST also serves RFC 8058
    one-click unsubscribe (mail clients POST `List-Unsubscribe=One-Click` to the link).
    """

    permission_classes = [AllowAnyone]
    authentication_classes: list = []  # no session, so no CSRF: the token is the credential
    renderer_classes = [JSONRenderer, UnsubscribeHtmlRenderer]

    def _token(self, request) -> tuple[int, str]:
        raw = request.query_params.get("token") or request.data.get("token") or ""
        data = s.UnsubscribeInput(data={"token": raw})
        data.is_valid(raise_exception=True)
        try:
            return unsubscribe_token_read(data.validated_data["token"])
        except signing.BadSignature:
            raise ValidationFailed(
                "This unsubscribe link is not valid.", code="token_invalid"
            ) from None

    @extend_schema(
        parameters=[_TOKEN_PARAM], responses=_UNSUBSCRIBE_RESPONSES, tags=["notifications"]
    )
    def get(self, request):
        user_id, kind = self._token(request)
        choice = selectors.channel_choice_for_token(user_id=user_id, kind=kind)
        if choice is None:
            raise ValidationFailed("This unsubscribe link is not valid.", code="token_invalid")
        return Response(
            {
                "kind": kind,
                "label": NotificationKind(kind).label,
                "email": choice.email,
                "done": False,
            }
        )

    @extend_schema(
        parameters=[_TOKEN_PARAM],
        request=None,
        responses=_UNSUBSCRIBE_RESPONSES,
        tags=["notifications"],
    )
    def post(self, request):
        user_id, kind = self._token(request)
        choice = services.preference_email_unsubscribe(user_id=user_id, kind=kind)
        return Response(
            {
                "kind": kind,
                "label": NotificationKind(kind).label,
                "email": choice.email,
                "done": True,
            }
        )
