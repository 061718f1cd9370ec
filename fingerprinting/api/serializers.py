from rest_framework import serializers


class IdentifyInput(serializers.Serializer):
    clip = serializers.FileField(help_text="An audio clip of at least a few seconds.")
    threshold = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)


class IdentificationOutput(serializers.Serializer):
    track_id = serializers.IntegerField()
    title = serializers.CharField()
    artist = serializers.CharField()
    isrc = serializers.CharField()
    confidence = serializers.FloatField()
    track_offset = serializers.FloatField()
    query_offset = serializers.FloatField()
    speed = serializers.FloatField()
