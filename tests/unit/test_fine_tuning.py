"""Fine-tuning's pure parts: upload validation by line, the deterministic held-out split,
hyperparameter resolution, model ids, the answer score, the subprocess protocol and the
private model's manifest."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from maas.catalog.models import load_model_manifest
from maas.db.tables import FineTuneJob
from maas.errors import InvalidRequest
from maas.finetune.jobs import plan, protocol
from maas.finetune.jobs.files import check_jsonl
from maas.finetune.jobs.service import fine_tunable, job_view, private_manifest
from maas.finetune.jobs.train import word_f1
from maas.settings import REPO_ROOT

GOOD = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
SHIPPED = REPO_ROOT / "examples" / "fine-tuning" / "huagong-service.jsonl"


def _file(rows: list[object | str]) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode()


@pytest.mark.parametrize(("row", "reason"), [
    ("{oops", "not JSON"),
    ([1], "must be a JSON object"),
    ({"messages": "hi"}, 'must have a "messages" list'),
    ({"messages": [GOOD["messages"][1]]}, "messages needs at least a user and an assistant"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "bot", "content": "a"}]},
     "messages[1].role must be one of system/user/assistant"),
    ({"messages": [{"role": "user", "content": " "}, GOOD["messages"][1]]},
     "messages[0].content must be a non-empty string"),
    ({"messages": [GOOD["messages"][1], GOOD["messages"][0]]},
     "messages[1] must be the assistant's answer"),
    ({"messages": [{"role": "system", "content": "s"}, GOOD["messages"][1]]},
     "messages needs a user message"),
    ({"messages": GOOD["messages"], "extra": 1}, "unknown field 'extra'"),
    ({"messages": [{"role": "user", "content": "q", "x": 1}, GOOD["messages"][1]]},
     "messages[0] has an unknown field 'x'"),
])
def test_each_bad_line_is_named_with_its_reason(row: object, reason: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_jsonl(_file([GOOD, GOOD, row, GOOD]))
    assert f"line 3: {reason}" in caught.value.message
    assert "1 bad line(s)" in caught.value.message


def test_every_bad_line_is_reported_and_blank_lines_keep_numbers() -> None:
    rows: list[object | str] = [GOOD, "", "nope", GOOD, "nope"]
    with pytest.raises(InvalidRequest) as caught:
        check_jsonl(_file(rows))
    assert "line 3:" in caught.value.message and "line 5:" in caught.value.message
    many = [GOOD] + ["x"] * 30
    with pytest.raises(InvalidRequest) as caught:
        check_jsonl(_file(many))
    assert "30 bad line(s)" in caught.value.message and "and 10 more" in caught.value.message
    with pytest.raises(InvalidRequest):
        check_jsonl(b"\n\n")
    with pytest.raises(InvalidRequest):
        check_jsonl(b"\xff\xfe")


def test_shipped_dataset_is_valid() -> None:
    checked = check_jsonl(SHIPPED.read_bytes())
    assert 40 <= len(checked.chats) <= 80
    assert checked.estimated_tokens > 0


def test_split_is_deterministic_and_disjoint() -> None:
    train, held = plan.split(64, 42)
    assert (train, held) == plan.split(64, 42)
    assert len(held) == 6 and not set(train) & set(held)
    assert sorted(train + held) == list(range(64))
    assert plan.split(64, 43) != (train, held)
    assert plan.eval_count(10) == 1 and plan.eval_count(3) == 1 and plan.eval_count(5000) == 50


def test_hyperparameters_resolve() -> None:
    auto = plan.resolve(plan.Hyperparameters(), 58)
    assert (auto.batch_size, auto.n_epochs, auto.steps) == (8, 6, 44)
    assert auto.learning_rate == plan.BASE_LEARNING_RATE
    fixed = plan.resolve(plan.Hyperparameters(n_epochs=2, batch_size=4,
                                              learning_rate_multiplier=0.5), 20)
    assert (fixed.steps, fixed.learning_rate) == (10, plan.BASE_LEARNING_RATE / 2)
    steps = plan.resolve(plan.Hyperparameters(steps=30), 5)
    assert (steps.batch_size, steps.steps, steps.n_epochs) == (5, 30, 30.0)
    for bad in ({"n_epochs": 0}, {"batch_size": 65}, {"learning_rate_multiplier": 0},
                {"n_epochs": 2, "steps": 3}, {"warmup": 1}):
        with pytest.raises(ValidationError):
            plan.Hyperparameters.model_validate(bad)
    assert plan.estimated_trained_tokens(1000, 10, plan.resolve(
        plan.Hyperparameters(steps=3, batch_size=2), 9)) == 600


def test_model_ids() -> None:
    assert plan.model_id("smollm2-135m-instruct", "plant", "ftjob-ab12cd34ef") == \
        "ft-smollm2-135m-instruct-plant"
    assert plan.model_id("smollm2-135m-instruct", None, "ftjob-ab12cd34ef") == \
        "ft-smollm2-135m-instruct-ab12cd34"
    assert not plan.SUFFIX.match("Bad Name")
    with pytest.raises(ValueError):
        plan.model_id("b", "x" * 130, "ftjob-1")


def test_word_f1() -> None:
    assert word_f1("The hotline is 400-000-6868.", "The hotline is 400-000-6868.") == 1.0
    assert word_f1("", "anything") == 0.0
    assert 0 < word_f1("call 400-000-6868 now", "The hotline is 400-000-6868") < 1


def test_protocol_round_trip_ignores_stray_output() -> None:
    out = io.StringIO()
    emit = protocol.Emitter(out)
    emit.event("Step 1/2", type_="metrics", data={"step": 1})
    emit.result(10, {"ready": True})
    emit.error("x", "y")
    lines = [protocol.parse(line) for line in out.getvalue().splitlines()]
    assert [line["kind"] for line in lines if line] == ["event", "result", "error"]
    assert protocol.parse("hello from a library") is None
    assert protocol.parse('{"kind": "other"}') is None


def test_private_manifest_is_the_base_owned_by_the_tenant(tmp_path: Path) -> None:
    base = load_model_manifest(REPO_ROOT / "models" / "smollm2-135m-instruct.yaml")
    industry = load_model_manifest(REPO_ROOT / "models" / "equipment-maintenance-smollm2.yaml")
    assert fine_tunable(base) and not fine_tunable(industry) and not fine_tunable(None)
    job = FineTuneJob(id="ftjob-0123456789ab", tenant_id="acme", base_model=base.id,
                      model_id="ft-smollm2-135m-instruct-plant", suffix="plant",
                      training_file="file-1", seed=7, total_steps=10,
                      result={"resolved": plan.resolve(plan.Hyperparameters(), 20).as_dict()})
    manifest = private_manifest(base, job, tmp_path, job.result["resolved"])
    assert (manifest.owner, manifest.base, manifest.adapter_path) == ("acme", base.id,
                                                                      str(tmp_path))
    assert manifest.adapter is not None and manifest.adapter.dataset == job.id
    assert manifest.adapter.seed == 7 and "fine-tuned" in manifest.tags
    assert manifest.source == base.source and manifest.pricing == base.pricing
    view = job_view(job)
    assert view["object"] == "fine_tuning.job" and view["status"] == "queued"
    assert view["hyperparameters"]["batch_size"] == 8
