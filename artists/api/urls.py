from django.urls import path

from artists.api import views

urlpatterns = [
    path("artists/me/", views.ArtistMeApi.as_view(), name="artist-me"),
    path("artists/", views.ArtistListApi.as_view(), name="artist-list"),
    path("artists/<int:pk>/", views.ArtistDetailApi.as_view(), name="artist-detail"),
    path("publishers/me/", views.PublisherMeApi.as_view(), name="publisher-me"),
    path("publishers/", views.PublisherListApi.as_view(), name="publisher-list"),
    path(
        "publishers/directory/",
        views.PublisherDirectoryApi.as_view(),
        name="publisher-directory",
    ),
    path("publishers/<int:pk>/", views.PublisherDetailApi.as_view(), name="publisher-detail"),
    path("relationships/", views.RelationshipListApi.as_view(), name="relationship-list"),
    path(
        "relationships/<int:pk>/",
        views.RelationshipDetailApi.as_view(),
        name="relationship-detail",
    ),
    path(
        "relationships/<int:pk>/accept/",
        views.RelationshipAcceptApi.as_view(),
        name="relationship-accept",
    ),
    path(
        "relationships/<int:pk>/decline/",
        views.RelationshipDeclineApi.as_view(),
        name="relationship-decline",
    ),
    path(
        "relationships/<int:pk>/terminate/",
        views.RelationshipTerminateApi.as_view(),
        name="relationship-terminate",
    ),
    path(
        "relationships/<int:pk>/suspend/",
        views.RelationshipSuspendApi.as_view(),
        name="relationship-suspend",
    ),
    path(
        "relationships/<int:pk>/reinstate/",
        views.RelationshipReinstateApi.as_view(),
        name="relationship-reinstate",
    ),
    path("kyc/", views.KycListApi.as_view(), name="kyc-list"),
    path("kyc/<int:pk>/", views.KycDetailApi.as_view(), name="kyc-detail"),
    path("kyc/<int:pk>/approve/", views.KycApproveApi.as_view(), name="kyc-approve"),
    path("kyc/<int:pk>/reject/", views.KycRejectApi.as_view(), name="kyc-reject"),
    path(
        "kyc/documents/<int:pk>/file/",
        views.KycDocumentFileApi.as_view(),
        name="kyc-document-file",
    ),
    path("payout-details/me/", views.PayoutDetailsMeApi.as_view(), name="payout-details-me"),
]
