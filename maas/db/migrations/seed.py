"""Rows that exist from the start, shared by migrations and bootstrap."""

#: Plans that exist from the start; `bootstrap` keeps them, admins can edit or add more.
SEED_PLANS = [
    {"id": "internal", "name": "Internal (postpaid, unlimited)", "billing": "postpaid",
     "limits": {}},
    {"id": "free", "name": "Free", "billing": "prepaid",
     "limits": {"requests_per_minute": 60, "tokens_per_minute": 40000, "concurrent": 4,
                "monthly_tokens": 1000000}},
    {"id": "standard", "name": "Standard", "billing": "prepaid",
     "limits": {"requests_per_minute": 600, "tokens_per_minute": 400000, "concurrent": 16,
                "monthly_tokens": 20000000}},
]
