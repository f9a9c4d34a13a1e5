"""``aihwkit-sc study list|run|report``: the built-in studies and a third party's, registered through the same
``register_studies`` hook, run and rebuilt from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aihwkit_sc import hookimpl, plugins
from aihwkit_sc.cli import main

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"


class ToyStudy:
    """A third party's study: records what it was asked to do."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    @hookimpl
    def register_studies(self, register: Any) -> None:
        register("toy", self.main, description="a toy study")

    def main(self, argv: list[str]) -> None:
        self.calls.append(argv)
        if "--fail" in argv:
            raise SystemExit("error: the toy study refuses --fail")


@pytest.fixture
def toy(fresh_host: plugins.PluginHost) -> ToyStudy:
    study = ToyStudy()
    assert fresh_host.add_plugin(study, "toy-plugin")
    return study


class BrokenStudy:
    @hookimpl
    def register_studies(self, register: Any) -> None:
        register("broken", 42, description="not callable")  # reported and skipped


def test_list_shows_the_built_in_studies_and_a_plugins(toy: ToyStudy, fresh_host: plugins.PluginHost) -> None:
    assert fresh_host.add_plugin(BrokenStudy(), "broken-plugin")
    with pytest.warns(plugins.PluginWarning, match=r"broken-plugin.*study 'broken': expected a callable, got int"):
        result = CliRunner().invoke(main, ["study", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert set(rows) == {"ablation", "builds", "batched", "superconvergence", "pulse-pick", "xd-refresh", "table1",
                         "backward-signal", "toy"}
    assert rows["ablation"]["plugin"] == "aihwkit_sc.default_plugins.studies"  # built-ins: the same hook
    assert rows["toy"] == {"name": "toy", "aliases": [], "plugin": "toy-plugin", "description": "a toy study"}


def test_run_and_report_hand_the_study_its_own_options(toy: ToyStudy) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["study", "run", "toy", "--seeds", "3", "--csv", "x.csv"]).exit_code == 0
    assert runner.invoke(main, ["study", "report", "toy", "--out", "p.md"]).exit_code == 0
    assert toy.calls == [["--seeds", "3", "--csv", "x.csv"], ["--out", "p.md", "--report-only"]]
    failed = runner.invoke(main, ["study", "run", "toy", "--fail"])
    assert failed.exit_code == 1 and "the toy study refuses --fail" in failed.output


def test_an_unknown_study_is_one_line_naming_the_choices() -> None:
    result = CliRunner().invoke(main, ["study", "run", "ablaton"])
    assert result.exit_code == 2
    assert "unknown study 'ablaton': did you mean 'ablation'?" in result.output


@pytest.mark.parametrize(("name", "page"), [("builds", "aihwkit-builds"), ("superconvergence", "superconvergence")])
def test_a_built_in_study_reports_its_committed_page_through_the_cli(name: str, page: str, tmp_path: Path) -> None:
    out = tmp_path / f"{page}.md"
    out.write_text((RESULTS / f"{page}.md").read_text())  # findings written by hand are kept from the page
    result = CliRunner().invoke(main, ["study", "report", name, "--csv", str(RESULTS / f"{page}.csv"),
                                       "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert out.read_text() == (RESULTS / f"{page}.md").read_text()


def test_a_built_in_study_without_the_repository_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    from aihwkit_sc.default_plugins import studies

    monkeypatch.setattr(studies, "BENCHMARKS", tmp_path / "benchmarks")
    result = CliRunner().invoke(main, ["study", "report", "builds"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith(
        "Error: the built-in studies run from a clone of the aihwkit-sc repository: ")


class PlanStudyPlugin:
    """A third party's plan study: a declared plan on the package's machinery, registered through the hook."""

    def __init__(self, folder: Path) -> None:
        from aihwkit_sc.experiments.plans import Cell, Study

        cell = Cell("lenet5", "mnist-5k", "pytorch", ("constant", "anneal"), (1,), 2, (1,), 1, (0.5, 1.0, 2.0),
                    baseline="constant")
        self.study = Study("my-plan", "my_plan.py", "My plan", (cell,), folder / "my.csv", folder / "my.md")

    @hookimpl
    def register_studies(self, register: Any) -> None:
        from aihwkit_sc.experiments import plans

        register("my-plan", lambda argv: plans.main(argv, self.study), description="a plugin's plan")


@pytest.mark.slow
def test_a_plugins_plan_study_runs_through_the_cli(fresh_host: plugins.PluginHost, tmp_path: Path) -> None:
    plugin = PlanStudyPlugin(tmp_path)
    assert fresh_host.add_plugin(plugin, "plan-plugin")
    result = CliRunner().invoke(main, ["study", "run", "my-plan", "--limit", "64", "--validation", "50", "--quiet",
                                       "--work-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    from aihwkit_sc.experiments import plan_cells, plans

    rows = plans.read_rows(tmp_path / "my.csv")
    tuned = {p: plan_cells.tuned(rows, plugin.study.plan[0], p, 1) for p in ("constant", "anneal")}
    assert all(s is not None for s in tuned.values())  # tuned on validation, the grid grown where it had to
    finals = sorted((r["policy"], r["scale"], r["seed"]) for r in rows if r["phase"] == "final")
    assert finals == sorted((p, tuned[p], s) for p in ("constant", "anneal") for s in (100, 101))
    page = (tmp_path / "my.md").read_text()
    assert page.startswith("# My plan") and "| 1 ep: anneal − constant | 2 |" in page


def test_the_plain_list_puts_every_description_in_one_column(toy: ToyStudy) -> None:
    lines = CliRunner().invoke(main, ["study", "list"]).output.splitlines()
    by_name = {line.split()[0]: line for line in lines}
    assert {"superconvergence", "ablation", "toy"} <= set(by_name)
    starts = {line.index(line.split(maxsplit=1)[1]) for line in lines}  # where each description begins
    assert len(starts) == 1, lines
    assert by_name["superconvergence"].startswith("superconvergence  Epochs each schedule needs")
