"""Metering through the public API, on SQLite and PostgreSQL: prices, credits, vouchers,
limits and quotas, usage records, reports and CSV."""

from __future__ import annotations

import csv
import io
import json

import httpx
import openai
import pytest

from tests.support.tenancy import (
    ADMIN,
    bearer,
    chat,
    grant,
    make_plan,
    make_tenant,
    ok,
)

# The fake models cost 0.5 credits per 1k prompt tokens and 1.0 per 1k completion tokens;
# the fake engine counts words: "hello" -> 1 prompt token, "echo: hello" -> 2 completion.
HELLO_COST_MICRO = 500 * 1 + 1000 * 2


def _ledger(world) -> list[dict]:  # noqa: ANN001
    return ok(httpx.get(world.api("/credits/ledger?limit=1000"), headers=bearer(world.key)))[
        "data"]


def _usage(world) -> list[dict]:  # noqa: ANN001
    return ok(httpx.get(world.api("/usage?limit=1000"), headers=bearer(world.key)))["data"]


def test_requests_debit_credits_exactly(tenancy_gateway: str) -> None:
    base = tenancy_gateway
    a = make_tenant(base, "meter")
    r = chat(base, a.key)
    assert r.status_code == 402 and r.json()["error"]["code"] == "insufficient_credits"
    assert r.headers["x-should-retry"] == "false"
    grant(base, a.id, 1)
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=a.key, max_retries=0)
    reply = client.chat.completions.create(model="fake-chat",
                                           messages=[{"role": "user", "content": "hello"}])
    assert reply.usage.total_tokens == 3
    stream = client.chat.completions.create(
        model="fake-chat", messages=[{"role": "user", "content": "hello"}], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    client.embeddings.create(model="fake-embed", input=["one two", "three"])
    records = _usage(a)
    assert len(records) == 3 and all(u["outcome"] == "ok" for u in records)
    chats = [u for u in records if u["endpoint"] == "chat.completions"]
    assert [u["cost_micro"] for u in chats] == [HELLO_COST_MICRO] * 2
    embed = next(u for u in records if u["endpoint"] == "embeddings")
    assert embed["prompt_tokens"] == 3 and embed["cost_micro"] == 1500
    debits = [e for e in _ledger(a) if e["kind"] == "debit"]
    assert sorted(-e["amount_micro"] for e in debits) == sorted(u["cost_micro"] for u in records)
    assert {e["usage_id"] for e in debits} == {u["id"] for u in records}
    balance = ok(httpx.get(a.api("/credits"), headers=bearer(a.key)))
    assert balance["available_micro"] == 1_000_000 - sum(u["cost_micro"] for u in records)
    assert balance["held_micro"] == 0


def test_completion_is_capped_to_what_the_credits_afford(tenancy_gateway: str,
                                                        fake_engine: tuple) -> None:
    base, (_, engine) = tenancy_gateway, fake_engine
    a = make_tenant(base, "thrifty")
    grant(base, a.id, 0.1)  # 100_000 micro-credits
    assert chat(base, a.key, max_tokens=1000).status_code == 200
    # Held up front: the prompt's upper bound (5 bytes + 20 template tokens) at 500 each,
    # so (100_000 - 12_500) / 1_000 = 87 completion tokens are affordable.
    assert engine.state.requests[-1]["max_tokens"] == 87
    assert ok(httpx.get(a.api("/credits"), headers=bearer(a.key)))["available_micro"] == (
        100_000 - HELLO_COST_MICRO)


def test_vouchers_issue_redeem_restrict_expire(tenancy_gateway: str) -> None:
    base = tenancy_gateway
    a = make_tenant(base, "smes")
    issued = ok(httpx.post(f"{base}/admin/v1/voucher-batches", headers=ADMIN, json={
        "name": "2026 AI voucher", "issuer": "City SME office", "amount": 2, "count": 3,
        "credit_days": 30}), 201)
    codes = issued["codes"]
    assert len(set(codes)) == 3 and all(c.startswith("MAAS-") for c in codes)
    listed = ok(httpx.get(f"{base}/admin/v1/voucher-batches", headers=ADMIN))["data"]
    assert codes[0] not in json.dumps(listed)  # codes are shown once, stored hashed
    redeemed = ok(httpx.post(a.api("/credits/redeem"), headers=bearer(a.owner_token),
                             json={"code": codes[0].lower()}), 201)  # case-insensitive
    assert redeemed["balance"]["available"] == 2
    r = httpx.post(a.api("/credits/redeem"), headers=bearer(a.owner_token),
                   json={"code": codes[0]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "voucher_redeemed"
    r = httpx.post(a.api("/credits/redeem"), headers=bearer(a.owner_token),
                   json={"code": "MAAS-AAAAA-BBBBB-CCCCC-DDDDD"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "invalid_voucher"
    r = httpx.post(a.api("/credits/redeem"), headers=bearer(a.member_token),
                   json={"code": codes[1]})
    assert r.status_code == 403  # redeeming is for tenant admins
    ok(httpx.post(f"{base}/admin/v1/voucher-batches/{issued['id']}/revoke", headers=ADMIN))
    r = httpx.post(a.api("/credits/redeem"), headers=bearer(a.owner_token),
                   json={"code": codes[1]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "voucher_revoked"

    # Credits restricted to another model do not pay for fake-chat.
    b = make_tenant(base, "textile")
    only_base = ok(httpx.post(f"{base}/admin/v1/voucher-batches", headers=ADMIN, json={
        "name": "base only", "issuer": "Platform", "amount": 5, "count": 1,
        "restrict_models": ["fake-base"]}), 201)
    ok(httpx.post(b.api("/credits/redeem"), headers=bearer(b.owner_token),
                  json={"code": only_base["codes"][0]}), 201)
    assert chat(base, b.key).status_code == 402
    r = httpx.post(f"{base}/v1/completions", headers=bearer(b.key),
                   json={"model": "fake-base", "prompt": "x"})
    assert r.status_code == 200
    kinds = [e["kind"] for e in _ledger(b)]
    assert kinds.count("redeem") == 1 and kinds.count("debit") == 1
    audit = [e["action"] for e in ok(httpx.get(b.api("/audit"), headers=bearer(b.key)))["data"]]
    assert "voucher.redeem" in audit
    platform = ok(httpx.get(f"{base}/admin/v1/audit", headers=ADMIN))["data"]
    assert {"voucher_batch.issue", "voucher_batch.revoke"} <= {e["action"] for e in platform}
    r = httpx.post(f"{base}/admin/v1/voucher-batches", headers=ADMIN, json={
        "name": "x", "issuer": "y", "amount": 1, "count": 1,
        "expires_at": "2020-01-01T00:00:00Z"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "expires_at"


def test_rate_limits_answer_429_with_openai_headers(tenancy_gateway: str) -> None:
    base = tenancy_gateway
    make_plan(base, "tiny", billing="postpaid", requests_per_minute=2, tokens_per_minute=5000)
    a = make_tenant(base, "busy", plan="tiny")
    first = chat(base, a.key)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-limit-tokens"] == "5000"
    assert chat(base, a.key).status_code == 200
    denied = chat(base, a.key)
    assert denied.status_code == 429
    assert denied.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(denied.headers["retry-after"]) >= 1
    assert denied.headers["x-ratelimit-remaining-requests"] == "0"
    assert denied.headers["x-ratelimit-reset-requests"].endswith("s")
    # A request larger than the whole tokens-per-minute budget is refused for good.
    big = chat(base, a.key, max_tokens=9000)
    assert big.status_code == 429 and big.json()["error"]["code"] == "request_too_large"
    assert big.headers["x-should-retry"] == "false"
    # A key can be stricter than its plan, never looser.
    strict = ok(httpx.post(a.api("/keys"), headers=bearer(a.owner_token), json={
        "name": "strict", "limits": {"concurrent": 1, "tokens_per_minute": 100}}), 201)
    r = chat(base, strict["key"], max_tokens=200)
    assert r.status_code == 429 and r.json()["error"]["code"] == "request_too_large"
    assert len(_usage(a)) == 2  # refused requests are not metered as usage


def test_monthly_quota_is_a_clear_error(tenancy_gateway: str) -> None:
    base = tenancy_gateway
    make_plan(base, "capped", billing="postpaid", monthly_tokens=600)
    a = make_tenant(base, "capped-co", plan="capped")
    assert chat(base, a.key, max_tokens=100).status_code == 200
    used = _usage(a)[0]["total_tokens"]
    r = chat(base, a.key, max_tokens=600)
    assert r.status_code == 429 and r.json()["error"]["code"] == "quota_exceeded"
    assert r.json()["error"]["type"] == "insufficient_quota"
    assert r.headers["x-should-retry"] == "false"
    assert f"{used} of 600" in r.json()["error"]["message"]
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=a.key, max_retries=3)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="fake-chat", max_tokens=600,
                                       messages=[{"role": "user", "content": "x"}])
    assert len(_usage(a)) == 1  # the SDK did not retry a quota error


def test_disconnect_is_settled_and_reports_export(tenancy_gateway: str) -> None:
    base = tenancy_gateway
    a = make_tenant(base, "report")
    grant(base, a.id, 10)
    with httpx.stream("POST", f"{base}/v1/chat/completions", headers=bearer(a.key), json={
            "model": "fake-chat", "stream": True, "chunk_delay": 0.3,
            "messages": [{"role": "user", "content": "one two three four five six"}]}) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                break  # the client goes away after the first chunk
    for _ in range(50):
        records = _usage(a)
        if records:
            break
        import time

        time.sleep(0.1)
    assert records and records[0]["outcome"] == "cancelled" and records[0]["estimated"]
    assert records[0]["completion_tokens"] >= 1
    balance = ok(httpx.get(a.api("/credits"), headers=bearer(a.key)))
    assert balance["held_micro"] == 0
    debits = [-e["amount_micro"] for e in _ledger(a) if e["kind"] == "debit"]
    assert debits == [records[0]["cost_micro"]]

    chat(base, a.key)
    chat(base, a.key, content="hello again")
    report = ok(httpx.get(a.api("/usage/report?group_by=day,model"), headers=bearer(a.key)))
    assert len(report["data"]) == 1
    row = report["data"][0]
    assert row["model"] == "fake-chat" and row["requests"] == 3 and row["errors"] == 1
    assert row["cost_micro"] == sum(u["cost_micro"] for u in _usage(a))
    text = httpx.get(a.api("/usage/report?group_by=model,key&format=csv"),
                     headers=bearer(a.key)).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["key"] == a.key_id and rows[0]["requests"] == "3"
    export = httpx.get(a.api("/usage/export.csv"), headers=bearer(a.key))
    assert export.headers["content-type"].startswith("text/csv")
    assert len(list(csv.DictReader(io.StringIO(export.text)))) == 3
    r = httpx.get(a.api("/usage/report?group_by=planet"), headers=bearer(a.key))
    assert r.status_code == 400 and r.json()["error"]["param"] == "group_by"


def test_plan_model_tags_limit_the_library(tenancy_gateway: str) -> None:
    base = tenancy_gateway
    make_plan(base, "general-only", billing="postpaid", model_tags=["general"])
    a = make_tenant(base, "tagged", plan="general-only")
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=a.key, max_retries=0)
    assert [m.id for m in client.models.list()] == ["fake-chat"]  # the only "general" model
    assert chat(base, a.key).status_code == 200
    with pytest.raises(openai.NotFoundError, match="do not have access"):
        client.embeddings.create(model="fake-embed", input="x")
    r = httpx.post(a.api("/keys"), headers=bearer(a.owner_token), json={
        "name": "x", "limits": {"model_tags": ["general", "gpu"]}})
    assert r.status_code == 201  # a key's tags narrow further; the plan still applies
    ok(httpx.patch(f"{base}/admin/v1/plans/general-only", headers=ADMIN,
                   json={"limits": {}}))
    assert "fake-embed" in [m.id for m in client.models.list()]  # plan change applies at once
