"""The fine-tuning queue on SQLite and PostgreSQL: two gateways' runners claiming from one
database each win distinct jobs (every job exactly once), a cancel is seen at the owner's
next heartbeat, and orphans of a dead gateway are failed while live ones are not."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from maas.db.database import Database
from maas.db.tables import FineTuneJob, Tenant, utcnow
from maas.finetune.jobs.runner import FineTuningRunner
from maas.finetune.jobs.service import cancel_job
from maas.settings import Settings

JOBS = 12


def _runner(db: Database, tmp_path: Path) -> FineTuningRunner:
    settings = Settings(data_dir=tmp_path, fine_tuning_stale_after=30, _env_file=None)
    return FineTuningRunner(settings, db, registry=None)  # type: ignore[arg-type]


def _queue(db: Database) -> list[str]:
    with db.session() as session:
        session.add(Tenant(id="acme", name="ACME", plan_id="free"))
        session.flush()
        for i in range(JOBS):
            session.add(FineTuneJob(id=f"ftjob-{i:02d}", tenant_id="acme", base_model="b",
                                    model_id=f"ft-b-{i}", training_file="file-x", seed=1))
    return [f"ftjob-{i:02d}" for i in range(JOBS)]


def test_two_runners_claim_each_job_once(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url)
    db.upgrade()
    ids = _queue(db)
    one, two = _runner(db, tmp_path), _runner(db, tmp_path)

    def drain(runner: FineTuningRunner) -> list[str]:
        won = []
        while (job := runner._claim()) is not None:
            won.append(job.id)
        return won

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(drain, (one, two))
    assert sorted(first + second) == ids and not set(first) & set(second)
    with db.session() as session:
        rows = {j: session.get(FineTuneJob, j) for j in ids}
        assert all(r is not None and r.status == "running" for r in rows.values())
        owner = rows[first[0]].runner_id if first else rows[second[0]].runner_id
        assert owner in (one.runner_id, two.runner_id)
    mine = first[0] if first else second[0]
    runner = one if mine in first else two
    assert runner._heartbeat(mine)
    with db.session() as session:
        cancel_job(session, "acme", mine)
    assert not runner._heartbeat(mine), "a cancelled job must stop its heartbeat"
    # A dead gateway's jobs (old heartbeat) are failed; fresh ones are left alone.
    stale = (first + second)[1]
    with db.session() as session:
        row = session.get(FineTuneJob, stale)
        assert row is not None
        row.heartbeat_at = utcnow() - timedelta(minutes=5)
        session.add(row)
    assert one.sweep_orphans() == [stale]
    with db.session() as session:
        row = session.get(FineTuneJob, stale)
        assert row is not None and row.status == "failed"
        assert row.error is not None and row.error["code"] == "runner_lost"
    db.dispose()
