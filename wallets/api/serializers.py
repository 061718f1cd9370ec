from decimal import Decimal

from rest_framework import serializers

from wallets.models import FailureReason, Posting, ReconciliationRun, Withdrawal, WithdrawalStatus

MONEY = {"max_digits": 14, "decimal_places": 2}


class WalletBalanceOutput(serializers.Serializer):
    currency = serializers.CharField()
    available = serializers.DecimalField(**MONEY, help_text="Can be withdrawn now.")
    pending = serializers.DecimalField(**MONEY, help_text="Held by withdrawals in flight.")
    paid_out = serializers.DecimalField(**MONEY, help_text="Withdrawals paid, all time.")


class WalletTransactionOutput(serializers.ModelSerializer):
    """A wallet posting as the payee sees it: money in is positive, money out negative."""

    entry_id = serializers.IntegerField()
    memo = serializers.CharField(source="entry.memo")
    reference_type = serializers.CharField(source="entry.reference_type")
    reference_id = serializers.CharField(source="entry.reference_id")
    amount = serializers.SerializerMethodField()
    direction = serializers.SerializerMethodField()
    balance_after = serializers.SerializerMethodField()

    class Meta:
        model = Posting
        fields = [
            "id",
            "entry_id",
            "created_at",
            "memo",
            "reference_type",
            "reference_id",
            "direction",
            "amount",
            "balance_after",
        ]

    def get_amount(self, obj) -> str:
        return f"{-obj.amount:.2f}"

    def get_direction(self, obj) -> str:
        return "credit" if obj.amount < 0 else "debit"

    def get_balance_after(self, obj) -> str:
        return f"{-obj.balance_after + 0:.2f}"


class StatementQueryInput(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="First day (Africa/Accra).")
    end = serializers.DateField(required=False, help_text="Last day, inclusive.")

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["Must not be before start."]})
        return attrs


class WithdrawalRequestInput(serializers.Serializer):
    amount = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"))


class WithdrawalOutput(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display")
    failure_reason_label = serializers.SerializerMethodField()
    msisdn_masked = serializers.SerializerMethodField()

    class Meta:
        model = Withdrawal
        fields = [
            "id",
            "amount",
            "currency",
            "status",
            "status_label",
            "network",
            "msisdn_masked",
            "provider",
            "reference_id",
            "requires_approval",
            "failure_reason",
            "failure_reason_label",
            "rejection_reason",
            "created_at",
            "approved_at",
            "sent_at",
            "completed_at",
        ]

    def get_failure_reason_label(self, obj) -> str:
        return FailureReason(obj.failure_reason).label if obj.failure_reason else ""

    def get_msisdn_masked(self, obj) -> str:
        return f"…{obj.msisdn[-4:]}"


class WithdrawalStaffOutput(WithdrawalOutput):
    user_id = serializers.IntegerField()
    user_email = serializers.EmailField(source="user.email")
    # Blank until someone approves/rejects: plain strings, not "email" format, in the schema.
    approved_by_email = serializers.CharField(source="approved_by.email", default="")
    rejected_by_email = serializers.CharField(source="rejected_by.email", default="")

    class Meta(WithdrawalOutput.Meta):
        fields = [
            *WithdrawalOutput.Meta.fields,
            "user_id",
            "user_email",
            "msisdn",
            "approved_by_email",
            "rejected_by_email",
            "send_attempts",
            "last_checked_at",
            "provider_status",
            "provider_reason",
            "provider_transaction_id",
            "review_note",
        ]


class WithdrawalRejectInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class WithdrawalResolveInput(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=[
            (WithdrawalStatus.SUCCEEDED, "Paid (confirmed with the provider)"),
            (WithdrawalStatus.FAILED, "Failed (no money left; the hold is released)"),
        ]
    )
    note = serializers.CharField(max_length=500)


class PayoutCallbackOutput(serializers.Serializer):
    received = serializers.BooleanField()


class ReconciliationRunOutput(serializers.ModelSerializer):
    is_clean = serializers.BooleanField()

    class Meta:
        model = ReconciliationRun
        fields = [
            "id",
            "started_at",
            "finished_at",
            "accounts_checked",
            "entries_checked",
            "withdrawals_checked",
            "is_clean",
            "discrepancies",
        ]
