"""Knowledge retrieval: ingest throughput and query latency of the RAG toolbox, in-process.

No servers and no text generation. Synthetic markdown documents (mixed Chinese and English
maintenance prose under headings, plus one markdown table each) are generated
deterministically from a seeded RNG and a built-in vocabulary of industrial words (Zipf
weighted, with fault codes and part numbers for rare terms); nothing is downloaded.

Ingest, per corpus size (chunks/s per stage):
  chunking   bytes -> `check_upload` -> `loaders.load` -> `chunk_blocks` -> StoredChunk
             (document generation is not timed). Above --max-chunked chunks only that many
             are chunked; the rest of the corpus repeats those chunks with their numbers
             shifted (the output says so).
  index      `store.write_version`: chunks.jsonl, FAISS IndexFlatIP, BM25 over jieba tokens,
             sentence windows, fsync, atomic switch; synthetic unit-norm float32 vectors of
             384 dims (those of multilingual-e5-small), two windows per chunk (the shipped
             bases have about 2.2). The BM25 build and save are timed inside it.
  embedding  the real multilingual-e5-small in-process (`maas.kb_cli._local_embedder_for`,
             the path `maas kb build` takes) on --embed-sample chunks, embedded as passages
             with their section heading in front, batches of 32; measured once, used for
             every size. Skipped (and said so) if the model cannot load.
  end to end chunking + embedding + index, as an estimate from the stage rates.

Query, per corpus size: the time to open the snapshot (`Snapshot.open`, warm page cache,
median [min..max] of --rounds opens), then --queries synthetic questions (Chinese, English
and mixed, some with fault codes) with random unit-norm query vectors through the hybrid
search (`snapshot.search`, top_k 5, with a translation vector as a term-base search has,
and again without the window re-scoring), BM25 alone (50 candidates) and FAISS alone
(50; with FAISS's default OpenMP threads, and again with one thread), each --rounds times; p50, p99
and mean in ms, median [min..max] over the rounds. Query embedding latency (one query per
call, as the gateway embeds a search) is measured with the real model on --embed-queries
questions. Everything runs in one process and shares the machine's cores with whatever
else runs: the load average is printed at the start and the end.

    python bench/knowledge_retrieval.py [--sizes 10000 100000] [--queries 200] [--rounds 3]
                                        [--embed-sample 256] [--embed-queries 50]
                                        [--max-chunked 100000] [--seed 7] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from maas.knowledge.ingest import embedding_text, stored_chunks
from maas.knowledge.lexical import BM25Index, tokenize
from maas.knowledge.store import Snapshot, StoredChunk, write_version
from maas.knowledge.uploads import check_upload
from maas.knowledge.windows import Windows

from _common import percentile, spread

DIMS = 384  # multilingual-e5-small
EMBED_MODEL = "multilingual-e5-small"
CHUNK_SIZE, CHUNK_OVERLAP = 500, 80  # the defaults of `ingest`
WINDOWS_PER_CHUNK = 2

# --- a deterministic corpus ---------------------------------------------------------------


def words(text: str) -> list[str]:
    return text.split()


ZH_EQUIPMENT = words("""
数控机床 主轴 滚珠丝杠 导轨 伺服电机 变频器 减速机 齿轮箱 液压站 液压泵 气缸 电磁阀
空压机 冷却塔 冷却泵 换热器 锅炉 蒸汽管道 安全阀 压力表 温度传感器 编码器 接近开关
光电开关 限位开关 继电器 接触器 断路器 配电柜 变压器 电缆桥架 输送带 皮带轮 链条 轴承
联轴器 密封圈 润滑泵 油雾器 过滤器 离心风机 除尘器 注塑机 冲压机 焊接机器人 机械臂 夹具
刀库 刀柄 砂轮 染色机 定型机 烘干机 织机 叉车 堆垛机 货架 托盘 提升机 刮板输送机 采煤机
掘进机 通风机 瓦斯传感器 水泵 变电所 控制柜 触摸屏 可编程控制器 工业网关 电机绝缘 接地线
防爆箱 储气罐 行车 起重机 吊钩 钢丝绳
""")
ZH_ACTION = words("""
检查 更换 紧固 清洁 润滑 校准 调整 复位 点检 测量 记录 停机 隔离 上锁挂牌 排气 排污
试运行 巡检 拆卸 安装 加注 放空 确认 标定 清理 维修 保养 报修 验收 复核
""")
ZH_FAULT = words("""
异常振动 温升过高 油压不足 漏油 漏气 过载 欠压 过流 短路 接地故障 通讯中断 编码器报警
定位偏差 噪声增大 磨损 松动 堵塞 腐蚀 卡滞 打滑 断带 跑偏 绝缘下降 瓦斯超限 粉尘超标
色差 断纱 缺料
""")
ZH_TOPIC = words("""
日常点检 定期保养 故障诊断 安全操作规程 应急处置 备件管理 润滑管理 能耗管理 质量控制 交接班
作业许可 有限空间作业 动火作业 高处作业 设备台账 预防性维护 状态监测 根因分析 工艺参数
生产计划
""")
EN_EQUIPMENT = words("""
spindle ballscrew guideway servo-motor inverter gearbox hydraulic-unit pump cylinder
solenoid-valve compressor cooling-tower heat-exchanger boiler safety-valve pressure-gauge
thermocouple encoder proximity-sensor relay contactor breaker switchgear transformer conveyor
pulley chain bearing coupling seal lubricator filter fan dust-collector press robot gripper
tool-changer grinder dyeing-machine stenter dryer loom forklift stacker-crane rack pallet hoist
shearer roadheader ventilator gas-detector drainage-pump substation PLC HMI gateway crane
""")
EN_ACTION = words("""
inspect replace tighten clean lubricate calibrate adjust reset measure record isolate lock-out
vent drain test-run dismantle install refill verify re-torque flush service
""")
EN_FAULT = words("""
abnormal-vibration overheating low-oil-pressure oil-leak air-leak overload undervoltage
overcurrent short-circuit earth-fault communication-loss encoder-alarm position-error
excessive-noise wear looseness clogging corrosion seizure slipping belt-break misalignment
insulation-loss gas-overlimit dust-overlimit shade-deviation yarn-break material-shortage
""")
UNITS_ZH = ["小时", "天", "周", "毫米", "兆帕", "摄氏度", "安培", "伏", "转每分", "牛米"]
UNITS_EN = ["hours", "days", "weeks", "mm", "MPa", "degC", "A", "V", "rpm", "N·m"]
ZH_SENTENCES = [
    "{e}的{e2}应每{n}{u}{a}一次，发现{f}时立即{a2}。",
    "当{e}出现{f}（故障代码 {code}）时，操作人员应先{a}，再{a2}{e2}。",
    "{e}与{e2}之间的间隙不得超过{n}{u}，超过时需要{a}并{a2}。",
    "{t}要求：{e}运行前必须{a}{e2}，并在点检表中记录{code}的读数。",
    "若{e}的{f}反复出现，应结合{t}的记录分析根本原因，必要时更换{part}。",
    "{e}额定参数为{n}{u}，连续运行{n2}小时后应检查{e2}是否{f}。",
    "维修完成后由班组长{a}{e}，确认无{f}后方可恢复生产。",
]
EN_SENTENCES = [
    "Inspect the {e} and {e2} every {n} {u}; {a} the {e2} if {f} is found.",
    "Fault code {code} on the {e} indicates {f}: {a} the {e2} before restarting.",
    "The {e} must not exceed {n} {u} during normal operation; otherwise {a} it.",
    "Before maintenance, {a} the {e}, apply lock-out tags and {a2} the {e2}.",
    "Replace part {part} of the {e} when {f} persists after {n2} operating hours.",
    "Operators shall {a} the {e} at the start of each shift and record code {code}.",
    "A recurring {f} on the {e} usually points to the {e2}; {a2} it and verify.",
]
TABLE_HEADER = "| 部件 Part | 检查项目 Item | 周期 Interval | 标准值 Limit | 代码 Code |"


def _zipf(words: Sequence[str], s: float = 0.9) -> tuple[Sequence[str], list[float]]:
    return words, [1 / (rank + 1) ** s for rank in range(len(words))]


VOCAB = {key: _zipf(words) for key, words in (
    ("ze", ZH_EQUIPMENT), ("za", ZH_ACTION), ("zf", ZH_FAULT), ("zt", ZH_TOPIC),
    ("ee", EN_EQUIPMENT), ("ea", EN_ACTION), ("ef", EN_FAULT))}


def _pick(rng: random.Random, key: str) -> str:
    words, weights = VOCAB[key]
    return rng.choices(words, weights)[0]


def _code(rng: random.Random) -> str:
    return f"{rng.choice('EAFPW')}{rng.randint(1, 999):03d}"


def _part(rng: random.Random) -> str:
    return f"{rng.choice(['SKF', 'NSK', 'THK', 'FAG', 'HIWIN'])}-{rng.randint(1000, 9999)}"


def _sentence(rng: random.Random, chinese: bool) -> str:
    p = "z" if chinese else "e"
    template = rng.choice(ZH_SENTENCES if chinese else EN_SENTENCES)
    return template.format(
        e=_pick(rng, p + "e"), e2=_pick(rng, p + "e"), a=_pick(rng, p + "a"),
        a2=_pick(rng, p + "a"), f=_pick(rng, p + "f"),
        t=_pick(rng, "zt"), n=rng.randint(1, 500), n2=rng.randint(100, 20000),
        u=rng.choice(UNITS_ZH if chinese else UNITS_EN), code=_code(rng), part=_part(rng))


def _paragraph(rng: random.Random) -> str:
    """55% Chinese, 30% English, 15% mixed sentence by sentence."""
    style = rng.random()
    count = rng.randint(2, 7)
    if style < 0.55:
        return "".join(_sentence(rng, True) for _ in range(count))
    if style < 0.85:
        return " ".join(_sentence(rng, False) for _ in range(count))
    return " ".join(_sentence(rng, rng.random() < 0.5) for _ in range(count))


def _table(rng: random.Random) -> list[str]:
    lines = [TABLE_HEADER, "|---|---|---|---|---|"]
    for _ in range(rng.randint(6, 24)):
        lines.append(f"| {_pick(rng, 'ze')} {_pick(rng, 'ee')} | {_pick(rng, 'za')} "
                     f"{_pick(rng, 'ea')} | {rng.randint(1, 30)} {rng.choice(UNITS_ZH[:3])} | "
                     f"≤ {rng.randint(1, 200)} {rng.choice(UNITS_EN[3:])} | {_code(rng)} |")
    return lines


def make_document(seed: int, number: int) -> tuple[str, bytes]:
    """Document `number` of the corpus: its file name and markdown bytes."""
    rng = random.Random(seed * 1_000_003 + number)
    equipment = _pick(rng, "ze")
    lines = [f"# {equipment}{_pick(rng, 'zt')}手册 {number:05d} / "
             f"{_pick(rng, 'ee')} manual", ""]
    sections = rng.randint(3, 6)
    table_at = rng.randrange(sections)
    for s in range(sections):
        lines += [f"## {s + 1}. {_pick(rng, 'zt')} {_pick(rng, 'ea')} procedure", ""]
        for _ in range(rng.randint(2, 4)):
            lines += [_paragraph(rng), ""]
        if s == table_at:
            lines += [*_table(rng), ""]
    return f"doc-{number:05d}.md", "\n".join(lines).encode("utf-8")


def make_query(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.45:
        return rng.choice([f"{_pick(rng, 'ze')}{_pick(rng, 'zf')}怎么处理？",
                           f"{_pick(rng, 'ze')}多久{_pick(rng, 'za')}一次",
                           f"故障代码 {_code(rng)} 是什么意思",
                           f"{_pick(rng, 'zt')}中{_pick(rng, 'ze')}的{_pick(rng, 'za')}要求"])
    if kind < 0.85:
        return rng.choice([f"how to {_pick(rng, 'ea')} the {_pick(rng, 'ee')}",
                           f"what does fault code {_code(rng)} mean",
                           f"{_pick(rng, 'ee')} {_pick(rng, 'ef')} causes",
                           f"replacement interval of {_pick(rng, 'ee')} part {_part(rng)}"])
    return f"{_pick(rng, 'ze')} {_pick(rng, 'ef')} {_code(rng)} 如何{_pick(rng, 'za')}"


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    matrix = rng.standard_normal((n, DIMS), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix


# --- measuring ------------------------------------------------------------------------------


def chunk_corpus(seed: int, target: int) -> tuple[list[StoredChunk], int, float]:
    """Chunk documents 0, 1, ... until `target` chunks: chunks, documents, chunking seconds."""
    chunks: list[StoredChunk] = []
    elapsed, number = 0.0, 0
    while len(chunks) < target:
        name, data = make_document(seed, number)
        doc_id = f"d{number:05d}"
        started = time.perf_counter()
        chunks.extend(stored_chunks(check_upload(name, data), doc_id, CHUNK_SIZE,
                                    CHUNK_OVERLAP))
        elapsed += time.perf_counter() - started
        number += 1
    return chunks[:target], number, elapsed


NUMBER = re.compile(r"\d+")


def repeat_chunks(chunks: list[StoredChunk], size: int) -> list[StoredChunk]:
    """`chunks` repeated up to `size`, numbers in each copy shifted by its copy number."""
    out = list(chunks)
    for i in range(len(chunks), size):
        base, copy = chunks[i % len(chunks)], i // len(chunks)
        text = NUMBER.sub(lambda m, c=copy: str(int(m.group()) + c), base.text)
        doc_id = f"{base.doc_id}c{copy}"
        out.append(StoredChunk(f"{doc_id}:{base.index}", doc_id, base.doc_name, base.index,
                               text, base.kind, base.page, base.section, base.start,
                               base.start + len(text)))
    return out


@contextmanager
def timed_bm25() -> Iterator[dict[str, float]]:
    """Time `BM25Index.build` and `.save` while `write_version` calls them."""
    times = {"build": 0.0, "save": 0.0}
    build, save = BM25Index.__dict__["build"], BM25Index.save

    def timed_build(cls: type[BM25Index], texts: list[str]) -> BM25Index:
        started = time.perf_counter()
        try:
            return build.__func__(cls, texts)
        finally:
            times["build"] += time.perf_counter() - started

    def timed_save(self: BM25Index, directory: Path) -> None:
        started = time.perf_counter()
        try:
            save(self, directory)
        finally:
            times["save"] += time.perf_counter() - started

    BM25Index.build = classmethod(timed_build)  # type: ignore[method-assign,assignment]
    BM25Index.save = timed_save  # type: ignore[method-assign]
    try:
        yield times
    finally:
        BM25Index.build = build  # type: ignore[method-assign]
        BM25Index.save = save  # type: ignore[method-assign]


@contextmanager
def faiss_threads(count: int | None) -> Iterator[None]:
    """FAISS's OpenMP threads set to `count` for the block (None: left as they are)."""
    import faiss

    before = faiss.omp_get_max_threads()
    if count:
        faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def latencies(call: Callable[[Any, np.ndarray], object], queries: list[str],
              vectors: np.ndarray) -> list[float]:
    out = []
    for query, vector in zip(queries, vectors, strict=True):
        started = time.perf_counter()
        call(query, vector)
        out.append((time.perf_counter() - started) * 1e3)
    return out


def num(value: float) -> str:
    """Three significant figures, at least one decimal below 100."""
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def summary(values: Sequence[float]) -> str:
    return (f"p50 {num(percentile(values, 50)):>6}  p99 {num(percentile(values, 99)):>6}  "
            f"mean {num(statistics.fmean(values)):>6} ms")


# --- the stages -----------------------------------------------------------------------------


def measure_embedding(args: argparse.Namespace) -> dict[str, float] | None:
    """Real-model passage throughput and single-query latency; None if it cannot load."""
    from maas.kb_cli import _local_embedder_for
    from maas.settings import Settings

    sample_chunks, _, _ = chunk_corpus(args.seed + 1, args.embed_sample)
    step = max(1, len(sample_chunks) // args.embed_sample)
    texts = [embedding_text(c) for c in sample_chunks[::step][:args.embed_sample]]
    qrng = random.Random(args.seed + 2)
    questions = [make_query(qrng) for _ in range(args.embed_queries)]
    print(f"embedding, {EMBED_MODEL} in-process (maas.kb_cli._local_embedder_for)")
    try:
        embedder = _local_embedder_for(Settings())(EMBED_MODEL)
        started = time.perf_counter()
        asyncio.run(embedder.embed(["预热 warm-up"], "passage"))  # loads the model
        load_s = time.perf_counter() - started
    except Exception as exc:  # noqa: BLE001 - any failure to load means: skip the stage
        print(f"  model did not load ({type(exc).__name__}: {exc}); embedding stage skipped")
        return None

    async def run() -> tuple[float, int, int, list[float]]:
        started = time.perf_counter()
        matrix, tokens = await embedder.embed(texts, "passage")
        passage_s = time.perf_counter() - started
        per_query = []
        for question in questions:
            t0 = time.perf_counter()
            await embedder.embed([question], "query")
            per_query.append((time.perf_counter() - t0) * 1e3)
        return passage_s, tokens, matrix.shape[1], per_query

    passage_s, tokens, dims, per_query = asyncio.run(run())
    rate = len(texts) / passage_s
    chars = statistics.fmean(len(t) for t in texts)
    print(f"  model load + first call  {load_s:6.1f} s")
    print(f"  passages   {len(texts)} chunks ({chars:.0f} chars, {tokens / len(texts):.0f} "
          f"tokens each on average) in {passage_s:.1f} s: {rate:.1f} chunks/s, "
          f"{tokens / passage_s:.0f} tokens/s, {dims} dims, batches of {embedder.batch}")
    print(f"  query      {len(questions)} queries, one per call: {summary(per_query)}")
    return {"rate": rate, "query_p50": percentile(per_query, 50)}


def bench_size(size: int, args: argparse.Namespace, work: Path,
               embed: dict[str, float] | None) -> dict[str, float]:
    chunked_target = min(size, args.max_chunked)
    chunks, documents, chunk_s = chunk_corpus(args.seed, chunked_target)
    chunk_rate = len(chunks) / chunk_s
    chars = statistics.fmean(len(c.text) for c in chunks)
    tables = sum(c.kind == "table" for c in chunks) / len(chunks)
    if size > len(chunks):
        corpus = repeat_chunks(chunks, size)
        how = (f"{len(chunks):,} chunked from {documents:,} documents, repeated with shifted "
               f"numbers up to {size:,}")
    else:
        corpus = chunks
        how = f"{documents:,} documents"
    vectors = unit_vectors(np.random.default_rng(args.seed), size)
    windows = Windows(np.repeat(np.arange(size, dtype=np.int32), WINDOWS_PER_CHUNK),
                      unit_vectors(np.random.default_rng(args.seed + 1),
                                   size * WINDOWS_PER_CHUNK))
    print(f"corpus of {size:,} chunks ({how}; {chars:.0f} chars per chunk on average, "
          f"{tables:.0%} table chunks)")
    print(f"  ingest     chunking   {chunk_s:7.1f} s for {len(chunks):,} chunks "
          f"{chunk_rate:8.0f} chunks/s   (check_upload + load + chunk_blocks)")

    kb_dir = work / f"kb-{size}"
    with timed_bm25() as bm25:
        started = time.perf_counter()
        write_version(kb_dir, corpus, vectors, {"embedding_model": EMBED_MODEL,
                                                "dimensions": DIMS}, windows=windows)
        index_s = time.perf_counter() - started
    index_rate = size / index_s
    disk = sum(f.stat().st_size for f in kb_dir.rglob("*") if f.is_file()) / 1e6
    rest = index_s - bm25["build"] - bm25["save"]
    print(f"             index      {index_s:7.1f} s {index_rate:16.0f} chunks/s   "
          f"(write_version: BM25 build {bm25['build']:.1f} s, BM25 save "
          f"{bm25['save']:.1f} s, jsonl + FAISS + fsync {rest:.1f} s; {disk:.0f} MB)")
    result = {"chunk_rate": chunk_rate, "index_s": index_s, "index_rate": index_rate}
    if embed:
        total_s = size / chunk_rate + size / embed["rate"] + index_s
        embed_share = (size / embed["rate"]) / total_s
        print(f"             embedding  {size / embed['rate']:7.0f} s {embed['rate']:16.1f} "
              f"chunks/s   (estimate from the {args.embed_sample}-chunk sample)")
        print(f"             end to end {total_s:7.0f} s {size / total_s:16.1f} chunks/s   "
              f"(estimate: {total_s / 60:.1f} min; embedding is {embed_share:.1%} of it)")
        result["e2e_rate"] = size / total_s
    else:
        total_s = size / chunk_rate + index_s
        print(f"             end to end {total_s:7.1f} s {size / total_s:16.0f} chunks/s   "
              f"(chunking + index only: no embedding model)")
    del corpus, chunks, vectors, windows

    loads = []
    snapshot: Snapshot | None = None
    for _ in range(args.rounds):
        snapshot = None  # let the previous one go before timing the next open
        started = time.perf_counter()
        snapshot = Snapshot.open(kb_dir)
        loads.append((time.perf_counter() - started) * 1e3)
    assert snapshot is not None and len(snapshot.chunks) == size
    qrng = random.Random(args.seed + 3)
    queries = [make_query(qrng) for _ in range(args.queries)]
    qvecs = unit_vectors(np.random.default_rng(args.seed + 3), args.queries)
    translations = unit_vectors(np.random.default_rng(args.seed + 4), args.queries)
    by_query = {q: t for q, t in zip(queries, translations, strict=True)}
    snap = snapshot
    unscored = Snapshot.open(kb_dir)
    unscored.rescorer = None
    methods: dict[str, Callable[[Any, np.ndarray], object]] = {
        "hybrid": lambda q, v: snap.search(q, v, top_k=5, translation_vector=by_query[q]),
        "unscored": lambda q, v: unscored.search(q, v, top_k=5,
                                                 translation_vector=by_query[q]),
        "BM25": lambda q, v: snap.bm25.search(snap.bm25.query_terms(q), 50),
        "FAISS": lambda q, v: snap.vectors.search(v.reshape(1, -1), 50),
        "FAISS1": lambda q, v: snap.vectors.search(v.reshape(1, -1), 50),
    }
    threads = {"FAISS1": 1}  # the rest: FAISS's default OpenMP threads
    for name, call in methods.items():  # warm up
        with faiss_threads(threads.get(name)):
            latencies(call, queries[:20], qvecs[:20])
    stats: dict[str, dict[str, list[float]]] = {
        m: {"p50": [], "p99": [], "mean": []} for m in methods}
    for _ in range(args.rounds):
        for name, call in methods.items():
            with faiss_threads(threads.get(name)):
                lat = latencies(call, queries, qvecs)
            stats[name]["p50"].append(percentile(lat, 50))
            stats[name]["p99"].append(percentile(lat, 99))
            stats[name]["mean"].append(statistics.fmean(lat))
    hits = [len(snap.search(q, v, top_k=5)) for q, v in zip(queries, qvecs, strict=True)]
    print(f"  query      snapshot open {spread(loads, num)} ms; {args.rounds} round(s) x "
          f"{args.queries} queries, {sum(h == 5 for h in hits)}/{len(hits)} with 5 hits "
          f"(ms, median [min..max] over rounds)")
    labels = {"hybrid": "hybrid top 5", "unscored": "no window pass",
              "BM25": "BM25 only, 50", "FAISS": "FAISS only, 50", "FAISS1": "FAISS, 1 thread"}
    for name in methods:
        row = stats[name]
        print(f"             {labels[name]:<15} p50 {spread(row['p50'], num):<20} "
              f"p99 {spread(row['p99'], num):<20} mean {spread(row['mean'], num)}")
    hybrid50 = statistics.median(stats["hybrid"]["p50"])
    parts50 = (statistics.median(stats["BM25"]["p50"])
               + statistics.median(stats["FAISS"]["p50"]))
    line = (f"             hybrid p50 / (BM25 p50 + FAISS p50) {hybrid50 / parts50:.2f}")
    if embed:
        line += (f"; with query embedding ({num(embed['query_p50'])} ms) a search is "
                 f"~{num(hybrid50 + embed['query_p50'])} ms at p50")
    print(line)
    shutil.rmtree(kb_dir, ignore_errors=True)
    result.update({"open": statistics.median(loads), **{
        f"{m}_{k}": statistics.median(v) for m, row in stats.items() for k, v in row.items()}})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000],
                        help="corpus sizes in chunks")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3,
                        help="query passes (and snapshot opens) per size")
    parser.add_argument("--embed-sample", type=int, default=256,
                        help="chunks embedded with the real model (0: skip)")
    parser.add_argument("--embed-queries", type=int, default=50)
    parser.add_argument("--max-chunked", type=int, default=100_000,
                        help="chunk at most this many; larger corpora repeat them")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2000 chunks, 50 queries, 1 round, 32-chunk sample")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.queries, args.rounds = [2000], 50, 1
        args.embed_sample, args.embed_queries = min(args.embed_sample, 32), 10
    if min(args.sizes) < 1 or args.queries < 1 or args.rounds < 1 or args.max_chunked < 1:
        parser.error("sizes, queries, rounds and max-chunked must be positive")

    print(f"knowledge retrieval: synthetic zh/en industrial markdown (seed {args.seed}), "
          f"chunks of {CHUNK_SIZE} chars / {CHUNK_OVERLAP} overlap, {DIMS}-dim unit vectors, "
          f"FAISS IndexFlatIP + BM25 (jieba)")
    import faiss

    print(f"  {os.cpu_count()} CPUs, FAISS OpenMP threads {faiss.omp_get_max_threads()}, "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    started = time.perf_counter()
    tokenize("预热 jieba 词典")  # jieba loads its dictionary once per process: not timed
    print(f"  jieba dictionary load {time.perf_counter() - started:.1f} s (once, not counted)")
    embed = measure_embedding(args) if args.embed_sample > 0 else None
    if args.embed_sample <= 0:
        print("embedding stage skipped (--embed-sample 0)")
    work = Path(tempfile.mkdtemp(prefix="maas-bench-kb-"))
    results: dict[int, dict[str, float]] = {}
    try:
        for size in args.sizes:
            results[size] = bench_size(size, args, work, embed)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if len(results) > 1:
        small, large = min(results), max(results)
        a, b = results[small], results[large]
        print(f"scaling {large:,} vs {small:,} chunks ({large / small:.0f}x): index build "
              f"{b['index_s'] / a['index_s']:.1f}x time ({b['index_rate'] / a['index_rate']:.2f}x "
              f"chunks/s); snapshot open {b['open'] / a['open']:.1f}x; p50 hybrid "
              f"{b['hybrid_p50'] / a['hybrid_p50']:.1f}x, BM25 "
              f"{b['BM25_p50'] / a['BM25_p50']:.1f}x, FAISS {b['FAISS_p50'] / a['FAISS_p50']:.1f}x "
              f"(1 thread {b['FAISS1_p50'] / a['FAISS1_p50']:.1f}x)")
    print(f"total benchmark time {time.perf_counter() - started:.0f} s, load average "
          f"{os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
