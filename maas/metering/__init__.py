"""Metering: prices, credits and vouchers, quotas, usage records and the per-request meter."""
