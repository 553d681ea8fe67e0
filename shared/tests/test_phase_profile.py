"""The pipeline's phase profile: what the benchmark reads, and pools across runs."""

from __future__ import annotations

from diko_shared.messaging.profile import PhaseProfile, summarise_phases


def test_a_summary_gives_each_phase_in_pipeline_order_with_its_percentiles() -> None:
    profile = PhaseProfile()
    for ms in range(1, 101):  # 1 … 100 ms
        profile.add("commit", ms / 1000)
    profile.add("lookup", 0.004)
    profile.add("zz_extra", 0.5)

    summary = profile.summary()

    assert list(summary) == ["lookup", "commit", "zz_extra"]
    commit = summary["commit"]
    assert commit["count"] == 100
    assert commit["mean_ms"] == 50.5
    assert commit["p50_ms"] == 51.0
    assert commit["p99_ms"] == 99.0
    assert commit["total_s"] == 5.05


def test_samples_are_a_copy_in_the_order_noted() -> None:
    profile = PhaseProfile()
    for seconds in (0.003, 0.001, 0.002):
        profile.add("ack", seconds)

    samples = profile.samples()
    samples["ack"].append(9.0)

    assert profile.samples() == {"ack": [0.003, 0.001, 0.002]}


def test_pooled_samples_of_two_runs_summarise_as_one() -> None:
    first, second = PhaseProfile(), PhaseProfile()
    for ms in range(1, 51):
        first.add("handler", ms / 1000)
    for ms in range(51, 101):
        second.add("handler", ms / 1000)
    pooled = {"handler": first.samples()["handler"] + second.samples()["handler"]}

    whole = PhaseProfile()
    for ms in range(1, 101):
        whole.add("handler", ms / 1000)

    assert summarise_phases(pooled) == whole.summary()
    assert summarise_phases({}) == {}
