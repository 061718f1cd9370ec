from django.urls import path

from royalties.api import views

urlpatterns = [
    path("royalties/rate-cards/", views.RateCardListCreateApi.as_view(), name="rate-card-list"),
    path(
        "royalties/rate-cards/<int:pk>/", views.RateCardDetailApi.as_view(), name="rate-card-detail"
    ),
    path("royalties/periods/", views.PeriodListApi.as_view(), name="royalty-period-list"),
    path(
        "royalties/periods/<int:pk>/", views.PeriodDetailApi.as_view(), name="royalty-period-detail"
    ),
    path(
        "royalties/periods/<int:pk>/close/",
        views.PeriodCloseApi.as_view(),
        name="royalty-period-close",
    ),
    path(
        "royalties/periods/<int:pk>/mark-paid/",
        views.PeriodMarkPaidApi.as_view(),
        name="royalty-period-mark-paid",
    ),
    path("royalties/lines/", views.RoyaltyLineListApi.as_view(), name="royalty-line-list"),
    path("royalties/invoices/", views.InvoiceListApi.as_view(), name="station-invoice-list"),
    path(
        "royalties/invoices/<int:pk>/",
        views.InvoiceDetailApi.as_view(),
        name="station-invoice-detail",
    ),
    path(
        "royalties/invoices/<int:pk>/mark-paid/",
        views.InvoiceMarkPaidApi.as_view(),
        name="station-invoice-mark-paid",
    ),
    path("royalties/reports/", views.ReportListCreateApi.as_view(), name="royalty-report-list"),
    path(
        "royalties/reports/<int:pk>/", views.ReportDetailApi.as_view(), name="royalty-report-detail"
    ),
    path(
        "royalties/reports/<int:pk>/download/",
        views.ReportDownloadApi.as_view(),
        name="royalty-report-download",
    ),
]
