from django.urls import path

from fingerprinting.api import views

urlpatterns = [
    path(
        "fingerprinting/identify/", views.ClipIdentifyApi.as_view(), name="fingerprinting-identify"
    ),
]
