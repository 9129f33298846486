"""`maas kb`: build, list and evaluate the platform knowledge bases from the command line.

The CLI embeds in-process with the model's own worker backend (no gateway or worker
server needed); the index it writes is the one a running gateway serves, which picks up
the new version on its next search.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer

from maas.settings import Settings

kb_app = typer.Typer(help="Platform knowledge bases: build, list, evaluate.",
                     no_args_is_help=True)


def _local_embedder_for(settings: Settings):  # noqa: ANN202 - imports kept local (slow)
    """`embedder_for` that runs each embedding model in this process, loaded once."""
    from maas.catalog.models import load_model_manifest
    from maas.knowledge.embedder import Embedder
    from maas.worker.embeddings import embeddings_response
    from maas.worker.server import create_backend

    backends: dict[str, Any] = {}

    def embedder_for(model_id: str) -> Embedder:
        async def post(body: dict[str, Any]) -> dict[str, Any]:
            backend = backends.get(model_id)
            if backend is None:
                path = settings.models_dir / f"{model_id}.yaml"
                if not path.exists():
                    raise typer.BadParameter(f"embedding model {model_id!r} has no manifest "
                                             f"in {settings.models_dir}")
                backend = create_backend(load_model_manifest(path), settings)
                await asyncio.to_thread(backend.load)
                backends[model_id] = backend
            vectors, tokens = await asyncio.to_thread(backend.embed, body["input"],
                                                      body.get("input_type"))
            return embeddings_response(vectors, tokens, model_id,
                                       body.get("encoding_format", "float"))

        return Embedder(model_id, post)

    return embedder_for


def _context(settings: Settings):  # noqa: ANN202
    from maas.app import knowledge_service, open_database
    from maas.catalog.knowledge import load_kb_manifests
    from maas.catalog.models import ManifestError

    try:
        kbs = load_kb_manifests(settings.knowledge_bases_dir)
    except ManifestError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    service = knowledge_service(settings, open_database(settings),
                                _local_embedder_for(settings))
    return service, {kb.id: kb for kb in kbs}


def _pick(kbs: dict[str, Any], ids: list[str] | None) -> list[Any]:
    unknown = sorted(set(ids or ()) - set(kbs))
    if unknown:
        raise typer.BadParameter(f"no platform knowledge base {unknown[0]!r}; known: "
                                 f"{', '.join(kbs) or 'none'}", param_hint="KB_ID")
    return [kbs[i] for i in ids] if ids else list(kbs.values())


@kb_app.command("build")
def kb_build(kb_ids: Annotated[list[str] | None, typer.Argument(
                 help="Knowledge base ids (default: all)")] = None,
             force: Annotated[bool, typer.Option(help="Rebuild even if unchanged")] = False
             ) -> None:
    """Index the platform knowledge bases whose sources changed (all with --force)."""
    from maas.knowledge.platform import PlatformBuilder

    settings = Settings()
    service, kbs = _context(settings)
    results = asyncio.run(PlatformBuilder(service).build_all(_pick(kbs, kb_ids), force,
                                                             progress=True))
    failed = False
    for r in results:
        if r.status == "failed":
            failed = True
            typer.echo(f"{r.kb_id}: FAILED {r.error}", err=True)
        elif r.status == "built":
            typer.echo(f"{r.kb_id}: built {r.documents} documents, {r.chunks} chunks "
                       f"({r.embedded} embedded, {r.seconds:.1f}s)")
        else:
            typer.echo(f"{r.kb_id}: up to date")
    if failed:
        raise typer.Exit(1)


@kb_app.command("list")
def kb_list() -> None:
    """Platform knowledge bases on disk and their index status."""
    from maas.db.tables import KnowledgeBase

    settings = Settings()
    service, kbs = _context(settings)
    typer.echo(f"{'ID':30} {'STATUS':10} {'DOCS':>5} {'CHUNKS':>7} TITLE")
    with service.db.session() as s:
        for kb_id, kb in kbs.items():
            row = s.get(KnowledgeBase, kb_id)
            status = row.status if row else "not built"
            docs = row.documents if row else len(kb.documents())
            chunks = row.chunks if row else 0
            typer.echo(f"{kb_id:30} {status:10} {docs:>5} {chunks:>7} "
                       f"{kb.manifest.title.zh} / {kb.manifest.title.en}")


@kb_app.command("eval")
def kb_eval(kb_ids: Annotated[list[str] | None, typer.Argument(
                help="Knowledge base ids (default: all with an eval.jsonl)")] = None,
            k: Annotated[int, typer.Option(min=1, max=50, help="Cut-off for hit@k")] = 5,
            as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
            build: Annotated[bool, typer.Option(help="Build first if out of date")] = True
            ) -> None:
    """Retrieval quality on the shipped question sets: hit@1, hit@k and MRR."""
    from dataclasses import asdict

    from maas.knowledge.evaluation import Scores, evaluate, load_eval_set
    from maas.knowledge.platform import PlatformBuilder

    settings = Settings()
    service, kbs = _context(settings)
    chosen = [kb for kb in _pick(kbs, kb_ids) if (kb.folder / "eval.jsonl").exists()]
    if not chosen:
        raise typer.BadParameter("no knowledge base with an eval.jsonl was chosen")

    async def run() -> list[Any]:
        if build:
            for result in await PlatformBuilder(service).build_all(chosen, progress=True):
                if result.status == "failed":
                    raise typer.BadParameter(f"{result.kb_id} failed to build: {result.error}")
        reports = []
        for kb in chosen:
            snapshot = service.snapshot(kb.id)
            if snapshot is None:
                raise typer.BadParameter(f"{kb.id} has no index; run `maas kb build {kb.id}`")
            questions = load_eval_set(kb.folder / "eval.jsonl")
            reports.append(await evaluate(snapshot, service.embedder_for(
                kb.manifest.embedding_model), kb.id, questions, k))
        return reports

    reports = asyncio.run(run())
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in reports], ensure_ascii=False, indent=2))
        return
    typer.echo(f"{'KNOWLEDGE BASE':30} {'GROUP':14} {'N':>4} {'HIT@1':>6} "
               f"{'HIT@' + str(k):>6} {'MRR':>6}")

    def row(kb_id: str, group: str, sc: Scores) -> None:
        typer.echo(f"{kb_id:30} {group:14} {sc.questions:>4} {sc.hit1:6.3f} {sc.hitk:6.3f} "
                   f"{sc.mrr:6.3f}")

    for rep in reports:
        for name, sc in [("all", rep.overall), *rep.groups.items()]:
            row(rep.kb_id, name, sc)
        for miss in rep.misses:
            typer.echo(f"  miss {miss['id']}: {miss['question']} ({miss['doc']})")
    if len(reports) > 1:
        row("ALL", "all", Scores.of([rank for rep in reports for rank in rep.ranks], k))
