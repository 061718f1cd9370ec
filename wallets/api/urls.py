from django.urls import path

from wallets.api import views

urlpatterns = [
    path("wallet/", views.WalletBalanceApi.as_view(), name="wallet-balance"),
    path(
        "wallet/transactions/",
        views.WalletTransactionListApi.as_view(),
        name="wallet-transactions",
    ),
    path("wallet/statement.csv", views.WalletStatementApi.as_view(), name="wallet-statement"),
    path("withdrawals/", views.WithdrawalListCreateApi.as_view(), name="withdrawals"),
    path("withdrawals/<int:pk>/", views.WithdrawalDetailApi.as_view(), name="withdrawal-detail"),
    path(
        "withdrawals/<int:pk>/cancel/",
        views.WithdrawalCancelApi.as_view(),
        name="withdrawal-cancel",
    ),
    path(
        "withdrawals/<int:pk>/approve/",
        views.WithdrawalApproveApi.as_view(),
        name="withdrawal-approve",
    ),
    path(
        "withdrawals/<int:pk>/reject/",
        views.WithdrawalRejectApi.as_view(),
        name="withdrawal-reject",
    ),
    path(
        "withdrawals/<int:pk>/recheck/",
        views.WithdrawalRecheckApi.as_view(),
        name="withdrawal-recheck",
    ),
    path(
        "withdrawals/<int:pk>/resolve/",
        views.WithdrawalResolveApi.as_view(),
        name="withdrawal-resolve",
    ),
    path(
        "payouts/callbacks/<str:provider>/",
        views.PayoutCallbackApi.as_view(),
        name="payout-callback",
    ),
    path(
        "payouts/reconciliation-runs/",
        views.ReconciliationRunListApi.as_view(),
        name="reconciliation-runs",
    ),
]
