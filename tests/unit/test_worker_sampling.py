"""Per-row sampling: exact distributions, nucleus cut-off, per-request seeds."""

from __future__ import annotations

import torch

from maas.worker.sampling import SamplingParams, make_generator, sample_batch


def _frequencies(logits: torch.Tensor, params: SamplingParams, draws: int = 4000) -> torch.Tensor:
    generator = make_generator(123)
    counts = torch.zeros(logits.shape[-1])
    for _ in range(draws):
        counts[sample_batch(logits.unsqueeze(0), [params], [generator])[0]] += 1
    return counts / draws


def test_temperature_one_matches_the_softmax() -> None:
    logits = torch.log(torch.tensor([0.1, 0.6, 0.3, 1e-9]))
    freq = _frequencies(logits, SamplingParams(max_tokens=1, temperature=1.0))
    assert torch.allclose(freq, torch.tensor([0.1, 0.6, 0.3, 0.0]), atol=0.03)


def test_top_p_keeps_the_smallest_prefix_reaching_the_mass() -> None:
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    freq = _frequencies(logits, SamplingParams(max_tokens=1, temperature=1.0, top_p=0.7))
    assert freq[2] == 0 and freq[3] == 0
    assert abs(freq[0] - 0.625) < 0.04  # 0.5 / (0.5 + 0.3)


def test_flat_distribution_takes_the_exact_slow_path() -> None:
    logits = torch.zeros(5000)  # top candidates hold far less than top_p
    freq = _frequencies(logits, SamplingParams(max_tokens=1, temperature=1.0, top_p=0.5),
                        draws=2000)
    seen = int((freq > 0).sum())
    assert 500 < seen <= 2500  # the nucleus holds exactly half of the 5000 equal tokens


def test_rows_have_their_own_parameters_and_generators() -> None:
    logits = torch.randn(3, 1000) * 5
    params = [SamplingParams(max_tokens=1), SamplingParams(max_tokens=1, temperature=1.0,
                                                           seed=5),
              SamplingParams(max_tokens=1, temperature=1.0, seed=5)]
    first = sample_batch(logits, params, [make_generator(p.seed) for p in params])
    again = sample_batch(logits, params, [make_generator(p.seed) for p in params])
    assert first == again
    assert first[0] == int(torch.argmax(logits[0]))


def test_penalties_push_away_from_generated_tokens() -> None:
    logits = torch.tensor([[2.0, 1.9, 0.0]])
    plain = SamplingParams(max_tokens=1)
    penalised = SamplingParams(max_tokens=1, presence_penalty=0.05, frequency_penalty=0.1)
    generator = make_generator(0)
    assert sample_batch(logits, [plain], [generator], [[0, 0]]) == [0]
    assert sample_batch(logits, [penalised], [generator], [[0, 0]]) == [1]  # 2 - 0.25 < 1.9
    assert sample_batch(logits, [penalised], [generator], [[]]) == [0]
