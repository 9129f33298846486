"""Rows that exist from the start, shared by migrations and bootstrap."""

#: Fine-tuning limits of the seeded paid-per-use plans (`Limits.fine_tuning_*`); migration
#: 0010 adds them to databases made before fine-tuning existed. `internal` has none.
FINE_TUNING_LIMITS: dict[str, dict[str, int]] = {
    "free": {"fine_tuning_active_jobs": 1, "fine_tuning_jobs_per_month": 5,
             "fine_tuning_examples": 2000, "fine_tuning_tokens": 500_000,
             "fine_tuned_models": 2},
    "standard": {"fine_tuning_active_jobs": 2, "fine_tuning_jobs_per_month": 50,
                 "fine_tuning_examples": 50_000, "fine_tuning_tokens": 20_000_000,
                 "fine_tuned_models": 20},
}

#: Plans that exist from the start; `bootstrap` keeps them, admins can edit or add more.
SEED_PLANS = [
    {"id": "internal", "name": "Internal (postpaid, unlimited)", "billing": "postpaid",
     "limits": {}},
    {"id": "free", "name": "Free", "billing": "prepaid",
     "limits": {"requests_per_minute": 60, "tokens_per_minute": 40000, "concurrent": 4,
                "monthly_tokens": 1000000, **FINE_TUNING_LIMITS["free"]}},
    {"id": "standard", "name": "Standard", "billing": "prepaid",
     "limits": {"requests_per_minute": 600, "tokens_per_minute": 400000, "concurrent": 16,
                "monthly_tokens": 20000000, **FINE_TUNING_LIMITS["standard"]}},
]
