"""The shipped platform knowledge bases, built for real (e5 embeddings in-process) and
evaluated with `maas kb eval`: retrieval quality must not fall below today's figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from maas.settings import REPO_ROOT

pytestmark = pytest.mark.slow


def test_build_then_eval_the_shipped_sets(tmp_path: Path) -> None:
    env = {**os.environ, "MAAS_DATA_DIR": str(tmp_path)}
    env.pop("MAAS_DATABASE_URL", None)
    run = subprocess.run([sys.executable, "-m", "maas", "kb", "build"], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count(": built ") >= 5
    again = subprocess.run([sys.executable, "-m", "maas", "kb", "build"], cwd=REPO_ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.stdout.count(": up to date") >= 5  # content hash unchanged: no rebuild

    out = subprocess.run([sys.executable, "-m", "maas", "kb", "eval", "--json", "--no-build"],
                         cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    reports = json.loads(out.stdout)
    ranks = [r for rep in reports for r in rep["ranks"]]
    hit5 = sum(r is not None and r <= 5 for r in ranks) / len(ranks)
    mrr = sum(1 / r for r in ranks if r is not None and r <= 5) / len(ranks)
    crossed = [rep["groups"]["cross-lingual"] for rep in reports
               if "cross-lingual" in rep["groups"]]
    cross5 = (sum(g["hitk"] * g["questions"] for g in crossed)
              / sum(g["questions"] for g in crossed))
    assert len(ranks) >= 60
    # Floors just under the measured figures (README: hit@5 0.90, MRR 0.715, cross-lingual
    # 0.80, the weakest base 0.67), with a question or two of margin for the embedding
    # engine's batch-to-batch wobble: a regression fails here.
    assert hit5 >= 0.88, reports
    assert mrr >= 0.68, reports
    assert cross5 >= 0.76, reports
    for rep in reports:
        assert rep["overall"]["hitk"] >= 0.62, rep["kb_id"]
