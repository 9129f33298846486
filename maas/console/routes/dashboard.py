"""Dashboard: requests, tokens and cost per day as charts; credits, quota, top models/apps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from maas.console.charts import chart
from maas.console.web import Page, signed_in

router = APIRouter(prefix="/console", include_in_schema=False)
DAYS = 14


def _series(rows: list[dict[str, Any]], today: datetime) -> dict[str, list[Any]]:
    """One point per day of the window, zero where nothing was used."""
    by_day = {str(r["day"])[:10]: r for r in rows}
    days = [(today - timedelta(days=DAYS - 1 - i)).date().isoformat() for i in range(DAYS)]
    pick = lambda field: [float(by_day.get(d, {}).get(field, 0) or 0) for d in days]  # noqa: E731
    return {"labels": [d[5:] for d in days], "requests": pick("requests"),
            "tokens": pick("total_tokens"), "cost": pick("cost")}


@router.get("")
async def dashboard(page: Page = Depends(signed_in)) -> Response:
    now = datetime.now(UTC)
    since = (now - timedelta(days=DAYS - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    report = page.manage("/usage/report")
    daily = (await page.api.get(report, group_by="day", since=since.isoformat()))["data"]
    models = (await page.api.get(report, group_by="model", since=month.isoformat()))["data"]
    apps = (await page.api.get(report, group_by="app", since=month.isoformat()))["data"]
    balance = await page.api.get(page.manage("/credits"))
    series = _series(daily, now)
    month_tokens = sum(r["total_tokens"] for r in models)
    quota = (page.me.get("plan") or {}).get("limits", {}).get("monthly_tokens")
    charts = {
        "requests": chart(series["labels"], series["requests"], "bar", "#2856d8", "requests"),
        "tokens": chart(series["labels"], series["tokens"], "line", "#16a3a0", "tokens"),
        "cost": chart(series["labels"], series["cost"], "line", "#b25e09", "cost"),
    }
    top = lambda rows: sorted(rows, key=lambda r: -r["total_tokens"])[:5]  # noqa: E731
    return page.render(
        "dashboard.html", charts=charts, balance=balance, quota=quota,
        month_tokens=month_tokens, top_models=top(models),
        top_apps=top([r for r in apps if r.get("app")]),
        totals={"requests": sum(series["requests"]), "tokens": sum(series["tokens"]),
                "cost": sum(series["cost"])},
        quota_pct=min(100, round(100 * month_tokens / quota)) if quota else None)
