"""Where settings come from: environment > the home's rendezvous.toml > the working directory's
(RENDEZVOUS_CONFIG) > neutral defaults; and the demo only ever wipes a home it built."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from rendezvous.demo.bootstrap import DemoRefused, wipe_state
from rendezvous.demo.home import mark_demo_home
from rendezvous.promotion.errors import TrainingError
from rendezvous.promotion.training import training_data
from rendezvous.services import forget_services, get_services
from rendezvous.settings import MissingSetting, Settings, get_settings


@pytest.fixture
def bare(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home with none of the demo's settings (nor the test harness's model folder)."""
    monkeypatch.delenv("RENDEZVOUS_CONFIG", raising=False)
    monkeypatch.delenv("RENDEZVOUS_MODELS_DIR")
    get_settings.cache_clear()
    forget_services()
    return home


def test_home_file_is_read_below_the_environment_and_above_the_working_directory(
    bare: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    working = tmp_path / "working.toml"
    working.write_text('id_column = "from_cwd"\nlabel_column = "from_cwd"\nchunk_rows = 77\n')
    monkeypatch.setenv("RENDEZVOUS_CONFIG", str(working))
    bare.mkdir(parents=True)
    (bare / "rendezvous.toml").write_text(
        'id_column = "from_home"\nlabel_column = "from_home"\nreference_url = "tables/ref.parquet"\n'
    )
    monkeypatch.setenv("RENDEZVOUS_LABEL_COLUMN", "from_env")
    settings = Settings()
    assert (settings.id_column, settings.label_column, settings.chunk_rows) == ("from_home", "from_env", 77)
    assert settings.reference_url == str(bare.resolve() / "tables" / "ref.parquet")  # relative: under home


def test_neutral_defaults_assume_nothing_of_the_demo(bare: Path) -> None:
    settings = Settings()
    assert settings.preprocess is None and settings.reference_url == "" and settings.training_recipe is None
    assert settings.suite_path is None and settings.timestamp_column is None
    assert settings.models_dir == str(bare.resolve() / "models")
    assert get_services().reference() is None and get_services().preprocess() is None
    with pytest.raises(MissingSetting, match="RENDEZVOUS_SUITE_PATH"):
        get_services().contract()
    with pytest.raises(TrainingError, match="RENDEZVOUS_TRAINING_RECIPE"):
        training_data(get_services())


def test_demo_refuses_to_wipe_a_home_it_did_not_build(bare: Path) -> None:
    mine = bare / "inbox" / "orders-0001.csv"
    mine.parent.mkdir(parents=True)
    mine.write_text("order_id\n1\n")
    with pytest.raises(DemoRefused) as refused:
        wipe_state(get_services())
    assert str(bare.resolve() / "inbox") in str(refused.value)
    assert mine.exists()

    assert wipe_state(get_services(), force=True) == [str(bare.resolve() / "inbox")]
    assert not mine.exists()


def test_demo_wipes_only_what_its_marker_lists(bare: Path) -> None:
    built = bare / "inbox" / "loans.csv"
    built.parent.mkdir(parents=True)
    built.write_text("x\n")
    kept = bare / "dev" / "mine.parquet"
    kept.parent.mkdir(parents=True)
    kept.write_text("not the demo's")
    mark_demo_home(bare, [str(bare / "inbox")])
    assert wipe_state(get_services()) == [str(bare / "inbox")]
    assert not built.exists() and kept.exists()


@pytest.mark.parametrize("runner", ["thread", "Dask", "tcp://scheduler", "dask; rm -rf /"])
def test_a_task_runner_that_is_neither_named_nor_an_address_is_refused_when_read(
    bare: Path, runner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RENDEZVOUS_TASK_RUNNER", runner)
    with pytest.raises(ValidationError, match="task_runner"):
        Settings()
    monkeypatch.setenv("RENDEZVOUS_TASK_RUNNER", "tcp://10.0.0.5:8786")
    assert Settings().task_runner == "tcp://10.0.0.5:8786"
