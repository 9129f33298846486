"""App overhead: what knowledge grounding and the app store's agent runtime add to a chat.

Processes on loopback: the fake engine (tests/support/fake_worker.py: instant echo chat,
8-dim embeddings; with no scripted decisions it answers an agent's decision by echoing the
question, which `parse_action` reads as "answer") and the gateway (`maas serve`, SQLite,
metering on) with a small platform knowledge base (two documents, built at start) and two
chat apps on the same model and knowledge base, free of fees: one without tools and one
with [kb_search, calculator]. A postpaid tenant without limits (metered, never refused) is
subscribed to both. Four cases, sequential non-streaming requests, one connection:

  baseline  /v1/chat/completions on fake-chat
  kb        the same with knowledge_bases: [plant-safety]     (retrieve, ground, 1 call)
  app       model "app:bench-kb"        (prompt, retrieve, answer; 1 call, a stored run)
  app+tools model "app:bench-kb-tools"  (prompt, retrieve, 1 decision, answer; 2 calls)

Each round runs the cases back to back; per round: p50, p99, p50 added to the baseline's
and the ratio of p50s, shown as median [min..max] over the rounds. One request per case is
checked first (citations; the stored run's steps).

    python bench/app_overhead.py [--requests 200] [--rounds 3] [--warmup 50] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from _common import PYTHON, free_port, load, percentile, spread, start, stop, wait_http

KEY = "sk-maas-bench-admin-key"
KB = "plant-safety"
QUESTION = "What must be isolated before opening the guard of press 7?"
MAX_TOKENS = 64
KB_YAML = f"""\
id: {KB}
industry: manufacturing
title: {{zh: 工厂安全, en: Plant safety}}
languages: [zh, en]
sources: [docs/]
splitter: {{chunk_size: 300, chunk_overlap: 40}}
embedding_model: fake-embed
"""
APP_YAML = """\
slug: {slug}
title: {{zh: 基准应用, en: Bench app}}
industry: manufacturing
model: fake-chat
knowledge_bases: [{kb}]
tools: {tools}
parameters:
  max_tokens: {{default: {max_tokens}, minimum: 16, maximum: 2048}}
  knowledge_top_k: {{default: 5, minimum: 1, maximum: 10}}
"""
APPS = {"bench-kb": "[]", "bench-kb-tools": "[kb_search, calculator]"}
CASES = ("baseline", "kb", "app", "app+tools")


def write_world(work: Path, engine_url: str) -> None:
    """Model manifests, the platform knowledge base and the two apps."""
    models = work / "models"
    models.mkdir()
    common = ("family: fake\ncontext_length: 2048\n"
              "pricing: {input_per_1k: 0.5, output_per_1k: 1.0}\nengines:\n"
              f"  - {{kind: remote, base_url: '{engine_url}/v1', upstream_model: fake}}\n")
    for model, kind in (("fake-chat", "chat"), ("fake-embed", "embedding\ndimensions: 8")):
        (models / f"{model}.yaml").write_text(f"id: {model}\nkind: {kind}\n{common}")
    docs = work / "kbs" / KB / "docs"
    docs.mkdir(parents=True)
    (docs.parent / "kb.yaml").write_text(KB_YAML, encoding="utf-8")
    (docs / "lockout.md").write_text(
        "# Lockout\n\n## Steps\n\nIsolate every energy source and apply a personal lock "
        "before opening the guard of press 7.\n", encoding="utf-8")
    (docs / "forklift.md").write_text(
        "# 叉车\n\n叉车行驶速度在库区内不得超过每小时五公里。\n", encoding="utf-8")
    for slug, tools in APPS.items():
        folder = work / "apps" / slug
        folder.mkdir(parents=True)
        (folder / "app.yaml").write_text(APP_YAML.format(
            slug=slug, kb=KB, tools=tools, max_tokens=MAX_TOKENS), encoding="utf-8")
        (folder / "prompt.md").write_text("You are {{app_title}}. Be brief.\n", "utf-8")
        (folder / "README.md").write_text(f"# {slug}\n", encoding="utf-8")


def setup_tenant(base: str) -> str:
    """A postpaid plan without limits, a tenant, its key, KB ready, both apps subscribed."""
    with httpx.Client(base_url=base, headers={"authorization": f"Bearer {KEY}"},
                      timeout=30) as client:
        client.post("/admin/v1/plans", json={"id": "bench", "name": "Bench", "limits": {},
                                             "billing": "postpaid"}).raise_for_status()
        client.post("/admin/v1/tenants",
                    json={"id": "bench", "name": "Bench", "plan": "bench"}).raise_for_status()
        response = client.post("/api/v1/tenants/bench/keys",
                               json={"name": "bench", "role": "tenant_owner"})
        response.raise_for_status()
        key = str(response.json()["key"])
    with httpx.Client(base_url=base, headers={"authorization": f"Bearer {key}"},
                      timeout=30) as client:
        deadline, status = time.time() + 60, None
        while time.time() < deadline:
            response = client.get(f"/v1/knowledge_bases/{KB}")
            status = response.json().get("status") if response.status_code == 200 else None
            if status == "ready":
                break
            time.sleep(0.2)
        else:
            raise TimeoutError(f"knowledge base {KB} not ready ({status}): {response.text}")
        for slug in APPS:
            client.post(f"/v1/apps/{slug}/subscription").raise_for_status()
    return key


def bodies() -> dict[str, dict[str, Any]]:
    chat = {"messages": [{"role": "user", "content": QUESTION}], "max_tokens": MAX_TOKENS}
    return {"baseline": {"model": "fake-chat", **chat},
            "kb": {"model": "fake-chat", "knowledge_bases": [KB], **chat},
            "app": {"model": "app:bench-kb", **chat},
            "app+tools": {"model": "app:bench-kb-tools", **chat}}


def check(base: str, auth: dict[str, str]) -> list[str]:
    """One request per case: citations, and the stored run's steps for the apps."""
    lines: list[str] = []
    with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
        for case, body in bodies().items():
            response = client.post("/v1/chat/completions", json=body)
            response.raise_for_status()
            reply = response.json()
            note = f"{len(reply.get('citations') or [])} citations"
            run = reply.get("app_run")
            if run:
                trace = client.get(f"/v1/apps/{run['app']}/runs/{run['id']}")
                trace.raise_for_status()
                steps = [s["type"] for s in trace.json()["steps"]]
                note += f", run {trace.json()['status']}: {' > '.join(steps)}"
            lines.append(f"  check     {case:<9} {note}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="30 requests, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.rounds, args.warmup = 30, 1, 10

    work = Path(tempfile.mkdtemp(prefix="maas-bench-"))
    engine_port, gw_port = free_port(), free_port()
    write_world(work, f"http://127.0.0.1:{engine_port}")
    engine = start([PYTHON, "-m", "tests.support.fake_worker", "--port", str(engine_port)])
    gateway = start([PYTHON, "-m", "maas", "serve", "--port", str(gw_port)], env={
        "MAAS_DATA_DIR": str(work / "data"), "MAAS_MODELS_DIR": str(work / "models"),
        "MAAS_KNOWLEDGE_BASES_DIR": str(work / "kbs"), "MAAS_APPS_DIR": str(work / "apps"),
        "MAAS_BUILD_KNOWLEDGE_BASES": "true", "MAAS_SUPERVISE_WORKERS": "false",
        "MAAS_ADMIN_API_KEY": KEY, "MAAS_LOG_LEVEL": "warning"}, log=work / "gateway.log")
    done = False
    try:
        wait_http(f"http://127.0.0.1:{engine_port}/health", 30, engine)
        base = f"http://127.0.0.1:{gw_port}"
        wait_http(f"{base}/readyz", 60, gateway)
        auth = {"authorization": f"Bearer {setup_tenant(base)}"}
        checks = check(base, auth)
        url, cases = f"{base}/v1/chat/completions", bodies()
        for body in cases.values():
            asyncio.run(load(url, auth, args.warmup, 1, body))
        rows: dict[str, dict[str, list[float]]] = {
            c: {k: [] for k in ("p50", "p99", "added", "ratio")} for c in CASES}
        for _ in range(args.rounds):
            for case in CASES:
                lat, _rps = asyncio.run(load(url, auth, args.requests, 1, cases[case]))
                row = rows[case]
                row["p50"].append(percentile(lat, 50) * 1e3)
                row["p99"].append(percentile(lat, 99) * 1e3)
                row["added"].append(row["p50"][-1] - rows["baseline"]["p50"][-1])
                row["ratio"].append(row["p50"][-1] / rows["baseline"]["p50"][-1])
        print(f"app overhead: {args.rounds} rounds x {args.requests} sequential requests per "
              f"case, non-streaming chat, SQLite, metered (median [min..max])")
        two, signed = "{:.2f}".format, "{:+.2f}".format
        for case in CASES:
            row = rows[case]
            print(f"  {case:<9} p50 {spread(row['p50'], two)} ms   p99 {spread(row['p99'], two)}"
                  f" ms   added p50 {spread(row['added'], signed)} ms   "
                  f"x{spread(row['ratio'], two)}")
        print("\n".join(checks))
        summary = ", ".join(f"{c} x{statistics.median(rows[c]['ratio']):.2f}"
                            for c in CASES[1:])
        print(f"  summary   p50 against the baseline: {summary}")
        done = True
    finally:
        stop(gateway)
        stop(engine)
        if done:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"failed; gateway log is in {work}")


if __name__ == "__main__":
    main()
