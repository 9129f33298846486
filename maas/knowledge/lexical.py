"""BM25 over jieba tokens: the lexical half of hybrid retrieval.

Chinese has no spaces, so terms come from jieba's search-mode segmentation (which also
emits the shorter words inside long compounds: 数控机床 -> 数控, 机床, 数控机床); Latin
words and codes (E01, 2001, M8) are lower-cased tokens. The index is an inverted list
of numpy arrays saved with `np.savez` (no pickle), scored only over the documents that
contain a query term, so a query costs what its terms' postings cost, not the corpus.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

TOKEN = re.compile(r"\w", re.UNICODE)
K1, B = 1.5, 0.75
#: Question words that carry no topic; skipped in queries (documents keep them).
STOPWORDS = frozenset("""
a an and are as at be by can do does for from how i if in is it its of on or our should
that the their there these this to was we what when where which who why will with you
your must may any some into about after before during than then them they has have had
的 了 是 在 和 与 或 及 吗 呢 吧 啊 怎么 怎样 如何 什么 哪些 哪个 多少 为什么 是否 应该 需要 可以
要 会 能 我们 我 你 他 这 那 这个 那个 一个 有 没有 时 时候 中 里 上 下 对 把 被 让 给 到 用
""".split())  # noqa: SIM905 - a word list reads better as text


def tokenize(text: str) -> list[str]:
    import jieba

    jieba.setLogLevel(60)  # no start-up chatter on stderr
    return [t.lower() for t in jieba.lcut_for_search(text) if t.strip() and TOKEN.search(t)]


class BM25Index:
    def __init__(self, vocab: dict[str, int], offsets: np.ndarray, docs: np.ndarray,
                 freqs: np.ndarray, lengths: np.ndarray) -> None:
        self.vocab, self.offsets, self.docs, self.freqs = vocab, offsets, docs, freqs
        self.lengths = lengths.astype(np.float32)
        self.avg = float(self.lengths.mean()) if len(lengths) else 1.0

    @classmethod
    def build(cls, texts: list[str]) -> BM25Index:
        postings: dict[str, dict[int, int]] = {}
        lengths = np.zeros(len(texts), dtype=np.int32)
        for doc, text in enumerate(texts):
            tokens = tokenize(text)
            lengths[doc] = len(tokens)
            for token in tokens:
                postings.setdefault(token, {}).setdefault(doc, 0)
                postings[token][doc] += 1
        vocab = {term: i for i, term in enumerate(sorted(postings))}
        offsets = np.zeros(len(vocab) + 1, dtype=np.int64)
        docs_list, freq_list = [], []
        for term, i in vocab.items():
            entries = sorted(postings[term].items())
            offsets[i + 1] = offsets[i] + len(entries)
            docs_list.extend(d for d, _ in entries)
            freq_list.extend(f for _, f in entries)
        return cls(vocab, offsets, np.asarray(docs_list, dtype=np.int32),
                   np.asarray(freq_list, dtype=np.float32), lengths)

    def query_terms(self, query: str) -> set[str]:
        """The query's searchable terms (tokenised once, used by `search` and `coverage`)."""
        return {t for t in tokenize(query) if t not in STOPWORDS}

    def _idf(self, postings: int) -> float:
        n = len(self.lengths)
        return float(np.log(1 + (n - postings + 0.5) / (postings + 0.5)))

    def _postings(self, i: int) -> np.ndarray:
        return self.docs[self.offsets[i]:self.offsets[i + 1]]

    def coverage(self, terms: set[str], doc: int) -> float:
        """How much of the query (IDF-weighted) `doc` contains, 0..1. A term the corpus
        never uses counts as the rarest: a query in another language than the documents
        covers little, which tells the fusion to trust the vector side instead."""
        total = matched = 0.0
        for term in terms:
            i = self.vocab.get(term)
            idf = self._idf(0 if i is None else len(self._postings(i)))
            total += idf
            if i is not None:
                postings = self._postings(i)  # sorted doc ids
                at = int(np.searchsorted(postings, doc))
                if at < len(postings) and postings[at] == doc:
                    matched += idf
        return matched / total if total else 0.0

    def search(self, terms: set[str], k: int, allowed: np.ndarray | None = None
               ) -> list[tuple[int, float]]:
        """Top `k` (doc, score) for the query terms; `allowed` is an optional boolean mask
        over docs."""
        scores: dict[int, float] = {}
        for term in terms:
            i = self.vocab.get(term)
            if i is None:
                continue
            docs = self._postings(i)
            freqs = self.freqs[self.offsets[i]:self.offsets[i + 1]]
            idf = self._idf(len(docs))
            norm = K1 * (1 - B + B * self.lengths[docs] / self.avg)
            term_scores = idf * freqs * (K1 + 1) / (freqs + norm)
            for doc, score in zip(docs.tolist(), term_scores.tolist(), strict=True):
                scores[doc] = scores.get(doc, 0.0) + score
        if allowed is not None:
            scores = {d: s for d, s in scores.items() if allowed[d]}
        return sorted(scores.items(), key=lambda item: -item[1])[:k]

    def save(self, directory: Path) -> None:
        np.savez(directory / "bm25.npz", offsets=self.offsets, docs=self.docs,
                 freqs=self.freqs, lengths=self.lengths)
        (directory / "bm25_vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False),
                                                    encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> BM25Index:
        arrays = np.load(directory / "bm25.npz", allow_pickle=False)
        vocab = json.loads((directory / "bm25_vocab.json").read_text(encoding="utf-8"))
        return cls(vocab, arrays["offsets"], arrays["docs"], arrays["freqs"],
                   arrays["lengths"])
