from __future__ import annotations

from rest_framework import serializers

from notifications.models import Channel, Notification, NotificationKind


class NotificationOutput(serializers.ModelSerializer):
    read = serializers.BooleanField(source="is_read")

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "priority",
            "title",
            "body",
            "link",
            "context",
            "read",
            "read_at",
            "created_at",
        ]
        read_only_fields = fields


class UnreadCountOutput(serializers.Serializer):
    unread = serializers.IntegerField()


class MarkAllReadOutput(serializers.Serializer):
    marked = serializers.IntegerField()
    unread = serializers.IntegerField()


class PreferenceOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=NotificationKind.choices)
    label = serializers.CharField()
    email = serializers.BooleanField()
    sms = serializers.BooleanField()
    websocket = serializers.BooleanField()
    locked = serializers.BooleanField(help_text="Security messages: their channels stay on.")


class PreferenceChangeInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=NotificationKind.choices)
    email = serializers.BooleanField(required=False)
    sms = serializers.BooleanField(required=False)
    websocket = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if not any(ch in attrs for ch in Channel.values):
            raise serializers.ValidationError("Name at least one of email, sms, websocket.")
        return attrs


class PreferencesUpdateInput(serializers.Serializer):
    preferences = PreferenceChangeInput(many=True, allow_empty=False)

    def validate_preferences(self, value):
        kinds = [item["kind"] for item in value]
        if len(kinds) != len(set(kinds)):
            raise serializers.ValidationError("Each kind may appear once.")
        return value


class UnsubscribeInput(serializers.Serializer):
    token = serializers.CharField(max_length=500)


class UnsubscribeOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=NotificationKind.choices)
    label = serializers.CharField()
    email = serializers.BooleanField(help_text="Whether emails of this kind are still sent.")
