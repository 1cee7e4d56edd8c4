"""Monitoring settings come from the one Settings object, partly given, validated."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from rendezvous.monitoring.thresholds import PairAlertRules, ScoreAlertRules
from rendezvous.settings import Settings


def test_defaults_and_partial_overrides_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RENDEZVOUS_HOME", str(tmp_path))
    assert Settings().monitoring.pair.max_ks == 0.2  # two model families: looser than one model's
    assert Settings().monitoring.reference_scores.max_ks == 0.1
    given = {"pair": {"min_agreement": 0.8}, "features": {"categorical": {"method": "l_infinity"}}}
    monkeypatch.setenv("RENDEZVOUS_MONITORING", json.dumps(given))
    monitoring = Settings().monitoring
    assert monitoring.pair.min_agreement == 0.8
    assert (monitoring.pair.max_ks, monitoring.pair.max_psi) == (0.2, 0.25)  # the rest kept
    assert monitoring.features.resolve("purpose", "categorical", 5_000) == ("l_infinity", 0.1)
    assert monitoring.features.resolve("income", "numeric", 5_000) == ("wasserstein", 0.1)


@pytest.mark.parametrize(
    "given",
    [
        {"features": {"numeric": {"method": "chi2"}}},  # a categorical test on numbers
        {"first_batches_rows": 0},
        {"unknown_setting": 1},
    ],
)
def test_invalid_monitoring_settings_are_refused(monkeypatch, tmp_path, given):
    monkeypatch.setenv("RENDEZVOUS_HOME", str(tmp_path))
    monkeypatch.setenv("RENDEZVOUS_MONITORING", json.dumps(given))
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    "rules", [ScoreAlertRules(), PairAlertRules(), PairAlertRules(max_mean_abs_diff=0.3)]
)
def test_each_score_limit_is_enforced_as_listed(rules: ScoreAlertRules) -> None:
    """The limits the monitor stores beside each score metric are exactly the ones that alert."""
    for name, (limit, direction) in rules.limits().items():
        if limit is None:
            assert rules.breached({name: 1e9}) == rules.breached({name: -1e9}) == []
            continue
        step = 1e-9 if direction == "above" else -1e-9
        assert rules.breached({name: limit}) == []
        assert rules.breached({name: limit + step}) == [name]
    assert (PairAlertRules().max_ks, PairAlertRules().max_psi) == (0.2, 0.25)
