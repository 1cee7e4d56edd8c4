"""Monitoring settings come from the one Settings object, partly given, validated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from rendezvous.monitoring.config import MonitoringConfig
from rendezvous.monitoring.thresholds import ScoreAlertRules, breached
from rendezvous.settings import Settings


def test_defaults_and_partial_overrides_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RENDEZVOUS_HOME", str(tmp_path))
    assert Settings().monitoring.pair.max_ks == 0.05  # beyond the pair's own KS on the reference
    given = {"pair": {"max_agreement_drop": 0.1}, "features": {"categorical": {"method": "l_infinity"}}}
    monkeypatch.setenv("RENDEZVOUS_MONITORING", json.dumps(given))
    monitoring = Settings().monitoring
    assert monitoring.pair.max_agreement_drop == 0.1
    assert (monitoring.pair.max_ks, monitoring.pair.noise_z) == (0.05, 4.0)  # the rest kept
    assert monitoring.features.resolve("purpose", "categorical", 5_000) == ("l_infinity", 0.1)
    assert monitoring.features.resolve("income", "numeric", 5_000) == ("wasserstein", 0.1)


@pytest.mark.parametrize(
    "given",
    [
        {"features": {"numeric": {"method": "chi2"}}},  # a categorical test on numbers
        {"first_batches_rows": 0},
        {"unknown_setting": 1},
        {"pair": {"min_agreement": 0.9}},  # an absolute limit: the rules are relative now
    ],
)
def test_invalid_monitoring_settings_are_refused(monkeypatch, tmp_path, given):
    monkeypatch.setenv("RENDEZVOUS_HOME", str(tmp_path))
    monkeypatch.setenv("RENDEZVOUS_MONITORING", json.dumps(given))
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize("rules", [ScoreAlertRules(), ScoreAlertRules(max_ks=None, noise_z=0.0)])
def test_each_score_limit_is_enforced_as_listed(rules: ScoreAlertRules) -> None:
    """The limits the monitor stores beside each score metric are exactly the ones that alert:
    the reference value moved by the tolerance plus noise_z times the noise, on the side that alerts."""
    reference = {"quantile_shift": 0.2, "ks": 0.3, "psi": 0.5, "agreement": 0.8, "mean_abs_diff": 0.1}
    noise = dict.fromkeys(reference, 0.01)
    limits = rules.limits(reference, noise)
    for name, (tolerance, direction) in rules.tolerances().items():
        if tolerance is None:
            assert name not in limits
            assert breached({name: 1e9}, limits) == breached({name: -1e9}, limits) == []
            continue
        limit, side = limits[name]
        sign = 1 if direction == "above" else -1
        assert side == direction
        assert limit == pytest.approx(reference[name] + sign * (tolerance + rules.noise_z * 0.01))
        assert breached({name: limit}, limits) == []
        assert breached({name: limit + sign * 1e-9}, limits) == [name]
    assert rules.limits({}, {}) == {}  # no reference value: nothing is judged


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every settable dotted key of a settings model (a per-feature table is one key)."""
    keys = []
    for name, info in model.model_fields.items():
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            keys += _keys(nested, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_every_monitoring_key_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    undocumented = [key for key in _keys(MonitoringConfig) if not any(f"`{key}" in row for row in rows)]
    assert not undocumented
