"""Fine-tuning over real HTTP with the openai SDK: uploads validated line by line, jobs
queued, run by the gateway's runner (a protocol-speaking stand-in trainer), cancelled,
limited per plan, charged, and a private model only its tenant sees. Another tenant gets
404 for every file, job, event list and model."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from maas.app import build_services, create_app
from maas.db.tables import FineTuneJob, utcnow
from maas.services import Services
from maas.settings import Settings
from tests.conftest import ADMIN_KEY, write_fake_manifests
from tests.support.fake_engine import serve_in_thread
from tests.support.tenancy import TenantWorld, bearer, grant, make_plan, make_tenant, ok

BASE = "tiny-chat"
CHAT = ('{{"messages": [{{"role": "user", "content": "question {i}"}}, '
        '{{"role": "assistant", "content": "answer {i}"}}]}}')


def dataset(n: int = 20) -> bytes:
    return "\n".join(CHAT.format(i=i) for i in range(n)).encode() + b"\n"


def _write_base(models: Path) -> None:
    """A chat model with local weights and a transformers engine: a valid base."""
    (models / f"{BASE}.yaml").write_text(
        f"id: {BASE}\nkind: chat\nfamily: tiny\ncontext_length: 2048\ntags: [general]\n"
        "pricing: {input_per_1k: 0.5, output_per_1k: 1.0}\n"
        "source: {path: /nonexistent/tiny}\nengines:\n  - {kind: transformers}\n")


@pytest.fixture
def world(tmp_path: Path, fake_engine: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[tuple[str, Services]]:
    monkeypatch.setenv("MAAS_FAKE_TRAINER", "ok")
    url, _ = fake_engine
    write_fake_manifests(tmp_path / "models", url)
    _write_base(tmp_path / "models")
    settings = Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "models",
                        knowledge_bases_dir=tmp_path / "kbs", apps_dir=tmp_path / "apps",
                        build_knowledge_bases=False, admin_api_key=ADMIN_KEY,
                        supervise_workers=False, fine_tuning_poll_interval=0.2,
                        _env_file=None)
    svc = build_services(settings)
    assert svc.fine_tuning is not None
    svc.fine_tuning.trainer = "tests.support.fake_trainer"
    with serve_in_thread(create_app(settings, services=svc)) as base:
        yield base, svc


def sdk(base: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)


def tenant(base: str, name: str, **limits: Any) -> TenantWorld:
    make_plan(base, f"plan-{name}", **limits)
    world = make_tenant(base, name, plan=f"plan-{name}")
    grant(base, name, 100)
    return world


def upload(client: openai.OpenAI, data: bytes, name: str = "train.jsonl") -> Any:
    return client.files.create(file=(name, data), purpose="fine-tune")


def wait_for(client: openai.OpenAI, job_id: str, states: tuple[str, ...], timeout: float = 30
             ) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in states:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job.status}")


def test_upload_lists_every_bad_line_and_stores_nothing(world: tuple[str, Services]) -> None:
    base, svc = world
    acme = tenant(base, "acme")
    lines = dataset(12).decode().splitlines()
    lines[1] = '{"messages": [{"role": "user", "content": "hi"}, {"role": "bot", "content": "x"}]}'
    lines[3] = "not json"
    lines[6] = '{"messages": [{"role": "user", "content": "no answer"}]}'
    response = httpx.post(f"{base}/v1/files", headers=bearer(acme.key),
                          data={"purpose": "fine-tune"},
                          files={"file": ("bad.jsonl", "\n".join(lines).encode())})
    error = response.json()["error"]
    assert response.status_code == 400, response.text
    assert error["code"] == "invalid_file_format" and error["param"] == "file"
    assert "3 bad line(s)" in error["message"]
    assert "line 2: messages[1].role must be one of system/user/assistant" in error["message"]
    assert "line 4: not JSON" in error["message"]
    assert "line 7: messages needs at least a user and an assistant message" in error["message"]
    assert sdk(base, acme.key).files.list().data == []
    folder = svc.settings.data_dir / "fine_tuning" / "files" / "acme"
    assert not folder.exists() or list(folder.iterdir()) == []
    wrong = httpx.post(f"{base}/v1/files", headers=bearer(acme.key),
                       data={"purpose": "assistants"}, files={"file": ("a.jsonl", dataset())})
    assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "purpose"


def test_upload_size_limit(world: tuple[str, Services]) -> None:
    base, svc = world
    acme = tenant(base, "acme")
    svc.settings.fine_tuning_max_file_mb = 0.001
    response = httpx.post(f"{base}/v1/files", headers=bearer(acme.key),
                          data={"purpose": "fine-tune"}, files={"file": ("a.jsonl", dataset(50))})
    assert response.status_code == 413, response.text


def test_job_succeeds_registers_a_private_model_and_is_metered(world: tuple[str, Services]
                                                               ) -> None:
    base, svc = world
    acme, other = tenant(base, "acme"), tenant(base, "other")
    client, stranger = sdk(base, acme.key), sdk(base, other.key)
    file = upload(client, dataset(20))
    assert (file.object, file.purpose, file.status) == ("file", "fine-tune", "processed")
    assert client.files.retrieve(file.id).bytes == len(dataset(20))
    job = client.fine_tuning.jobs.create(training_file=file.id, model=BASE, suffix="plant",
                                         hyperparameters={"n_epochs": 2}, seed=7)
    assert job.status == "queued" and job.object == "fine_tuning.job"
    done = wait_for(client, job.id, ("succeeded", "failed"))
    assert done.status == "succeeded", done.error
    assert done.fine_tuned_model == f"ft-{BASE}-plant"
    assert done.trained_tokens and done.trained_tokens > 0
    extra = done.model_extra or {}
    assert extra["progress"] == 1.0 and extra["eval"]["ready"] is True
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
    assert messages[0] == "The job has successfully completed"  # newest first
    assert any(m.startswith("Step 1/") for m in messages)
    assert "Job queued" in messages and "Fine-tuning job started" in messages
    page = client.fine_tuning.jobs.list_events(job.id, limit=2)
    assert len(page.data) == 2 and page.has_more
    later = client.fine_tuning.jobs.list_events(job.id, limit=2, after=page.data[-1].id)
    assert later.data[0].id != page.data[0].id
    # The private model: its tenant sees it, another tenant gets 404.
    assert client.models.retrieve(done.fine_tuned_model).id == done.fine_tuned_model
    with pytest.raises(openai.NotFoundError):
        stranger.models.retrieve(done.fine_tuned_model)
    assert done.fine_tuned_model not in [m.id for m in stranger.models.list()]
    record = svc.registry.snapshot[done.fine_tuned_model]
    assert record.owner == "acme" and "fine-tuned" in record.tags
    assert Path(record.manifest["adapter_path"]).is_dir()
    assert record.manifest["adapter"]["dataset"] == job.id
    # Metered: one usage record for the job, visible in the tenant's usage.
    usage = ok(httpx.get(acme.api("/usage"), headers=bearer(acme.key)))["data"]
    charged = [u for u in usage if u["endpoint"] == "fine_tuning.jobs"]
    assert len(charged) == 1 and charged[0]["request_id"] == job.id
    assert charged[0]["prompt_tokens"] == done.trained_tokens and charged[0]["cost"] > 0
    # Isolation: the other tenant cannot see the file, job or events.
    for call in (lambda: stranger.files.retrieve(file.id),
                 lambda: stranger.files.delete(file.id),
                 lambda: stranger.fine_tuning.jobs.retrieve(job.id),
                 lambda: stranger.fine_tuning.jobs.cancel(job.id),
                 lambda: stranger.fine_tuning.jobs.list_events(job.id)):
        with pytest.raises(openai.NotFoundError):
            call()
    assert stranger.fine_tuning.jobs.list().data == []
    assert stranger.files.list().data == []
    assert [j.id for j in client.fine_tuning.jobs.list()] == [job.id]
    # The same name again is a conflict; a finished job cannot be cancelled.
    with pytest.raises(openai.ConflictError):
        client.fine_tuning.jobs.create(training_file=file.id, model=BASE, suffix="plant")
    with pytest.raises(openai.ConflictError):
        client.fine_tuning.jobs.cancel(job.id)
    # Deleting the model: not by another tenant, not by a member, not a library model.
    with pytest.raises(openai.NotFoundError):
        stranger.models.delete(done.fine_tuned_model)
    with pytest.raises(openai.PermissionDeniedError):
        sdk(base, acme.member_token).models.delete(done.fine_tuned_model)
    with pytest.raises(openai.NotFoundError):
        client.models.delete(BASE)
    assert client.models.delete(done.fine_tuned_model).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve(done.fine_tuned_model)
    assert not Path(record.manifest["adapter_path"]).exists()


def test_adapter_that_does_not_beat_its_base_makes_no_model(
        world: tuple[str, Services], monkeypatch: pytest.MonkeyPatch) -> None:
    base, svc = world
    monkeypatch.setenv("MAAS_FAKE_TRAINER", "worse")
    client = sdk(base, tenant(base, "acme").key)
    job = client.fine_tuning.jobs.create(training_file=upload(client, dataset()).id, model=BASE)
    done = wait_for(client, job.id, ("succeeded", "failed"))
    assert done.status == "failed" and done.error.code == "adapter_not_better"
    assert "loss 3.0 vs base 2.5" in done.error.message
    assert done.fine_tuned_model is None
    assert not any(getattr(r, "owner", None) for r in svc.registry.snapshot.values())
    assert not (svc.settings.data_dir / "fine_tuning" / "models").exists() or not any(
        (svc.settings.data_dir / "fine_tuning" / "models").rglob("eval.json"))


def test_a_crashed_trainer_fails_the_job_with_its_log(
        world: tuple[str, Services], monkeypatch: pytest.MonkeyPatch) -> None:
    base, _ = world
    monkeypatch.setenv("MAAS_FAKE_TRAINER", "crash")
    client = sdk(base, tenant(base, "acme").key)
    job = client.fine_tuning.jobs.create(training_file=upload(client, dataset()).id, model=BASE)
    done = wait_for(client, job.id, ("succeeded", "failed"))
    assert done.error.code == "training_failed"
    assert "exited with code 1" in done.error.message and "something broke" in done.error.message


def test_cancel_kills_the_training_process_and_keeps_nothing(
        world: tuple[str, Services], monkeypatch: pytest.MonkeyPatch) -> None:
    base, svc = world
    monkeypatch.setenv("MAAS_FAKE_TRAINER", "slow")
    acme = tenant(base, "acme")
    client = sdk(base, acme.key)
    job = client.fine_tuning.jobs.create(training_file=upload(client, dataset()).id, model=BASE)
    wait_for(client, job.id, ("running",))
    pid_file = svc.settings.data_dir / "fine_tuning" / "work" / job.id / "pid"
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    pid = int(pid_file.read_text())
    member = sdk(base, acme.member_token)
    with pytest.raises(openai.PermissionDeniedError):
        member.fine_tuning.jobs.cancel(job.id)
    assert client.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    deadline = time.monotonic() + 15
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), "the training process survived the cancel"
    while (svc.settings.data_dir / "fine_tuning" / "work" / job.id).exists() \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (svc.settings.data_dir / "fine_tuning" / "work" / job.id).exists()
    assert client.fine_tuning.jobs.retrieve(job.id).fine_tuned_model is None
    time.sleep(0.5)
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
    assert "Training process stopped; nothing was kept" in messages
    assert not any(getattr(r, "owner", None) for r in svc.registry.snapshot.values())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "zombie" in status.read_text())


def test_roles_members_read_and_upload_admins_start(world: tuple[str, Services]) -> None:
    base, _ = world
    acme = tenant(base, "acme")
    member = sdk(base, acme.member_token)
    file = upload(member, dataset())
    with pytest.raises(openai.PermissionDeniedError):
        member.fine_tuning.jobs.create(training_file=file.id, model=BASE)
    with pytest.raises(openai.PermissionDeniedError):
        member.files.delete(file.id)
    owner = sdk(base, acme.owner_token)
    job = owner.fine_tuning.jobs.create(training_file=file.id, model=BASE)
    assert member.fine_tuning.jobs.retrieve(job.id).id == job.id
    assert [j.id for j in member.fine_tuning.jobs.list()] == [job.id]
    wait_for(owner, job.id, ("succeeded",))
    assert owner.files.delete(file.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        owner.files.retrieve(file.id)


def test_bases_must_be_local_plain_chat_models(world: tuple[str, Services]) -> None:
    base, _ = world
    client = sdk(base, tenant(base, "acme").key)
    file = upload(client, dataset())
    for model in ("fake-chat", "fake-embed", "no-such-model"):
        with pytest.raises(openai.BadRequestError) as caught:
            client.fine_tuning.jobs.create(training_file=file.id, model=model)
        assert caught.value.body["param"] == "model"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.create(training_file=upload(client, dataset(5)).id, model=BASE)
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.create(training_file=file.id, model=BASE, suffix="Bad Name!")
    with pytest.raises(openai.NotFoundError):
        client.fine_tuning.jobs.create(training_file="file-nope", model=BASE)


def test_plan_limits_and_credits(world: tuple[str, Services]) -> None:
    base, svc = world
    svc.settings.fine_tuning_max_running = 0  # keep jobs queued
    small = tenant(base, "small", fine_tuning_examples=15, fine_tuning_active_jobs=1,
                   fine_tuning_jobs_per_month=2)
    client = sdk(base, small.key)
    with pytest.raises(openai.BadRequestError) as caught:
        client.fine_tuning.jobs.create(training_file=upload(client, dataset(20)).id, model=BASE)
    assert "fine_tuning_examples" in caught.value.message
    file = upload(client, dataset(12))
    first = client.fine_tuning.jobs.create(training_file=file.id, model=BASE)
    with pytest.raises(openai.RateLimitError) as caught:
        client.fine_tuning.jobs.create(training_file=file.id, model=BASE)
    assert "fine_tuning_active_jobs" in caught.value.message
    client.fine_tuning.jobs.cancel(first.id)
    client.fine_tuning.jobs.create(training_file=file.id, model=BASE)
    with pytest.raises(openai.ConflictError):  # an active job reads it
        client.files.delete(file.id)
    tokens = tenant(base, "tokens", fine_tuning_tokens=50)
    tclient = sdk(base, tokens.key)
    with pytest.raises(openai.BadRequestError) as caught:
        tclient.fine_tuning.jobs.create(training_file=upload(tclient, dataset()).id, model=BASE)
    assert "fine_tuning_tokens" in caught.value.message
    models = tenant(base, "models", fine_tuned_models=0)
    mclient = sdk(base, models.key)
    with pytest.raises(openai.RateLimitError) as caught:
        mclient.fine_tuning.jobs.create(training_file=upload(mclient, dataset()).id, model=BASE)
    assert "fine_tuned_models" in caught.value.message
    make_plan(base, "broke-plan")
    broke = make_tenant(base, "broke", plan="broke-plan")  # prepaid, no credits
    bclient = sdk(base, broke.key)
    with pytest.raises(openai.APIStatusError) as caught:
        bclient.fine_tuning.jobs.create(training_file=upload(bclient, dataset()).id, model=BASE)
    assert caught.value.status_code == 402


def test_jobs_list_pages_newest_first(world: tuple[str, Services]) -> None:
    base, svc = world
    svc.settings.fine_tuning_max_running = 0
    client = sdk(base, tenant(base, "acme").key)
    file = upload(client, dataset())
    ids = [client.fine_tuning.jobs.create(training_file=file.id, model=BASE).id
           for _ in range(3)]
    first = client.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in first.data] == ids[::-1][:2] and first.has_more
    rest = client.fine_tuning.jobs.list(limit=2, after=first.data[-1].id)
    assert [j.id for j in rest.data] == [ids[0]] and not rest.has_more
    assert [j.id for j in client.fine_tuning.jobs.list()] == ids[::-1]


def test_orphaned_running_jobs_fail_with_a_clear_error(world: tuple[str, Services]) -> None:
    """A job whose gateway died (no heartbeat) is failed by the next runner pass."""
    base, svc = world
    svc.settings.fine_tuning_max_running = 0
    client = sdk(base, tenant(base, "acme").key)
    job = client.fine_tuning.jobs.create(training_file=upload(client, dataset()).id, model=BASE)
    with svc.db.session() as session:
        row = session.get(FineTuneJob, job.id)
        assert row is not None
        row.status, row.runner_id = "running", "gone-host:1:dead"
        row.heartbeat_at = utcnow().replace(year=2020)
        session.add(row)
    assert svc.fine_tuning is not None
    assert svc.fine_tuning.sweep_orphans() == [job.id]
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed" and failed.error.code == "runner_lost"
    assert "stopped or restarted" in failed.error.message


def test_files_page_and_validation_file(world: tuple[str, Services]) -> None:
    base, _ = world
    client = sdk(base, tenant(base, "acme").key)
    ids = [upload(client, dataset(), f"f{i}.jsonl").id for i in range(3)]
    page = client.files.list(limit=2)
    assert [f.id for f in page.data] == ids[::-1][:2]
    assert [f.id for f in client.files.list(limit=2, after=page.data[-1].id).data] == [ids[0]]
    job = client.fine_tuning.jobs.create(training_file=ids[0], validation_file=ids[1],
                                         model=BASE, method={"type": "supervised", "supervised": {
                                             "hyperparameters": {"batch_size": 4}}})
    view = json.loads(client.fine_tuning.jobs.with_raw_response.retrieve(job.id).text)
    assert view["validation_file"] == ids[1] and view["hyperparameters"]["batch_size"] == 4
    assert view["resolved_hyperparameters"]["batch_size"] == 4
