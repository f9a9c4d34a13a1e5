"""The ablation's building blocks: device-peak constant/anneal/multistep policies, the fixed validation split, per-epoch
x·d telemetry, and the ablation study script end to end at toy size."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from scipy import stats

from aihwkit_sc import presets, schedules
from aihwkit_sc.schedules import device_lr_bounds
from aihwkit_sc.training import TrainConfig, _load_splits, train, validation_split
from tests.test_one_cycle import analog_setup, assert_tiles_synced, train_step

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "study_ablation.py"


def test_multistep_decays_at_fractions_of_the_run() -> None:
    lr = schedules.trace("multistep", epochs=4, steps_per_epoch=5, lr=0.1)["lr"]
    assert lr[:10] == [0.1] * 10 and lr[10:15] == pytest.approx([0.01] * 5) and lr[15:] == pytest.approx([1e-3] * 5)
    with pytest.raises(ValueError, match=r"milestones must be increasing fractions of the run in \(0, 1\), got "
                                         r"\[0.75, 0.5\]"):
        schedules.trace("multistep", epochs=4, steps_per_epoch=5, lr=0.1, milestones=[0.75, 0.5])


@pytest.mark.parametrize("name", ["constant", "cosine", "multistep"])
def test_policies_start_each_analog_layer_at_its_device_peak(name: str) -> None:
    model, opt = analog_setup()
    unit = [device_lr_bounds(opt.param_groups[i], 0.1)[0] for i in (1, 2)]
    sched = schedules.build(name, opt, epochs=2, steps_per_epoch=4, lr=0.05, analog_lr="device", xd_product=0.1,
                            device_pulses=2.0)
    assert opt.param_groups[0]["lr"] == 0.05
    assert [opt.param_groups[i]["lr"] for i in (1, 2)] == pytest.approx([2 * u for u in unit])
    assert_tiles_synced(opt)
    for _ in range(6):
        train_step(model, opt, sched)
    ratio = {"constant": 1.0, "cosine": (1 + math.cos(math.pi * 6 / 8)) / 2, "multistep": 0.01}[name]
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05 * ratio, *(2 * u * ratio for u in unit)])
    assert_tiles_synced(opt)


def test_validation_split_is_stratified_fixed_and_disjoint() -> None:
    config = TrainConfig(validation=500)
    train_set, test_set, val_set = _load_splits(config)
    assert (len(train_set), len(val_set), len(test_set)) == (3500, 500, 1000)  # type: ignore[arg-type]
    assert Counter(int(y) for _, y in val_set) == dict.fromkeys(range(10), 50)
    assert not set(train_set.indices) & set(val_set.indices)  # type: ignore[attr-defined]
    again = _load_splits(TrainConfig(validation=500, seed=7))[2]
    assert again.indices == val_set.indices  # type: ignore[union-attr]
    with pytest.raises(ValueError, match=r"validation must be between 1 and 3999 samples of 4000, got 4000"):
        validation_split(_load_splits(TrainConfig())[0], 4000)


@pytest.mark.slow
def test_run_records_validation_accuracy_and_remeasured_xd(tmp_path: Path) -> None:
    config = TrainConfig(preset="gv", schedule="constant", schedule_options={"analog_lr": "device"}, epochs=2,
                         limit=256, validation=100, batch_size=64)
    result = train(config, tmp_path, quiet=True)
    for row in result.metrics:
        assert 0 <= row["val_accuracy"] <= 1 and row["val_accuracy"] * 100 == pytest.approx(round(
            row["val_accuracy"] * 100))  # 100 validation digits: whole percents
        assert len(row["xd_product"]) == 4 and all(v > 0 for v in row["xd_product"])
    assert result.metrics[0]["xd_product"] != result.metrics[1]["xd_product"]  # re-measured as the weights change
    assert result.summary["schedule_options"]["xd_product"] != result.metrics[-1]["xd_product"]


def run_study(tmp_path: Path, *extra: str) -> str:
    args = [sys.executable, str(SCRIPT), "--devices", "pytorch", "gokmen-vlasov", "--scales", "1", "2",
            "--digital-scales", "0.5", "1", "--tune-budget", "1", "--tune-seeds", "1", "--budgets", "1", "2",
            "--ref-budget", "2", "--seeds", "2", "--validation", "50", "--limit", "128", "--workers", "1", "--quiet",
            "--work-dir", str(tmp_path / "runs"), "--csv", str(tmp_path / "a.csv"), "--out", str(tmp_path / "a.md"),
            "--telemetry-csv", str(tmp_path / "t.csv"), *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr


@pytest.mark.slow
def test_ablation_study_end_to_end(tmp_path: Path) -> None:
    err = run_study(tmp_path)
    assert err.count("8 of 8 runs to train") == 2  # tune, per device: 4 policies x 2 scales x 1 seed
    assert err.count("20 of 20 runs to train") == 2  # final, per device: (4 policies x 2 budgets + 2 refs) x 2 seeds
    rows = list(csv.DictReader((tmp_path / "a.csv").read_text().splitlines()))
    assert len(rows) == 56 and all(r["status"] in ("complete", "collapsed") for r in rows)
    for r in rows:  # toy runs may stay at chance: named collapsed, their accuracy still recorded
        accuracies = json.loads(r["accuracies"])
        assert (r["status"] == "collapsed") == (max(accuracies) <= 0.15)
        assert float(r["final_accuracy"]) == accuracies[-1]
    page = (tmp_path / "a.md").read_text()
    # the tuned scale is the one with the best validation accuracy, and the final runs use it
    for device in ("pytorch", "gokmen-vlasov"):
        for policy in ("constant", "anneal", "multistep", "one-cycle"):
            tune = {float(r["scale"]): float(r["final_accuracy"]) for r in rows
                    if (r["device"], r["policy"], r["phase"]) == (device, policy, "tune")}
            best = max(sorted(tune), key=lambda s: tune[s])
            finals = [r for r in rows if (r["device"], r["policy"], r["phase"]) == (device, policy, "final")]
            assert {float(r["scale"]) for r in finals} == {best} and len(finals) == 4
    # a paired difference on the page equals scipy's t interval over the CSV's seeds
    gv = {p: {int(r["seed"]): 100 * float(r["final_accuracy"]) for r in rows if r["device"] == "gokmen-vlasov"
              and r["phase"] == "final" and r["budget"] == "2" and r["policy"] == p} for p in ("one-cycle", "anneal")}
    diffs = [gv["one-cycle"][s] - gv["anneal"][s] for s in sorted(gv["one-cycle"])]
    mean = statistics.mean(diffs)
    if statistics.stdev(diffs) > 0:
        low, high = stats.t.interval(0.95, 1, loc=mean, scale=statistics.stdev(diffs) / math.sqrt(2))
        assert f"| one-cycle − anneal | 2 | {mean:+.2f} | [{low:+.2f}, {high:+.2f}] |" in page
        assert f"| gokmen-vlasov | 2 | {mean:+.2f} [{low:+.2f}, {high:+.2f}] " in page  # the at-a-glance table
    assert "desired_bl = 31;" in page  # Gokmen-Vlasov's bit-length cap, read from the preset
    assert (tmp_path / "a-gokmen-vlasov-2ep.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads(next(r for r in rows if r["device"] == "gokmen-vlasov")["xd_first"])
    # telemetry: one run per analog policy at its tuned scale, per layer and epoch
    assert err.count("4 of 4 runs to train") == 1
    tele = list(csv.DictReader((tmp_path / "t.csv").read_text().splitlines()))
    assert sorted((r["policy"], r["layer"]) for r in tele) == sorted(
        (p, str(i)) for p in ("constant", "anneal", "multistep", "one-cycle") for i in range(4))
    desired_bl = presets.get("gokmen-vlasov").rpu_config().update.desired_bl
    for r in tele:
        tuned = next(x for x in rows if (x["device"], x["policy"], x["phase"]) == ("gokmen-vlasov", r["policy"],
                                                                                   "final"))
        assert r["scale"] == tuned["scale"] and r["seed"] == "100" and r["epoch"] == "1"
        assert 0 < float(r["bit_length"]) <= desired_bl and 0 <= float(r["capped"]) <= 1
        assert float(r["pulses_per_sample"]) > 0
    one = next(r for r in tele if (r["policy"], r["layer"]) == ("one-cycle", "0"))
    assert (f"| one-cycle | {float(one['scale']):g} | 1 | {float(one['xd']):.3g} | {float(one['bit_length']):.2f} | "
            f"{100 * float(one['capped']):.1f} | {float(one['pulses_per_sample']):.0f} |") in page
    # a re-run trains nothing; a torn last row is trained again; findings written by hand survive
    (tmp_path / "a.md").write_text(page + "Our reading: keep me.\n")
    text = (tmp_path / "a.csv").read_text()
    (tmp_path / "a.csv").write_text(text[: text.rindex("\n", 0, len(text) - 1) + 1] + "gokmen-vlasov,ref:poster")
    tele_text = (tmp_path / "t.csv").read_text()
    (tmp_path / "t.csv").write_text(tele_text[: tele_text.rindex("\n", 0, len(tele_text) - 1) + 1] + "gokmen-vl")
    err = run_study(tmp_path)
    assert err.strip().splitlines() == ["1 of 20 runs to train", "1 of 4 runs to train"]
    # 15 rows and the 4 of the run trained again (the torn line is cut off; the page reads the last rows of a run)
    assert len(list(csv.DictReader((tmp_path / "t.csv").read_text().splitlines()))) == 15 + 4
    assert "gokmen-vl\n" not in (tmp_path / "t.csv").read_text()
    assert "ref:poster\n" not in (tmp_path / "a.csv").read_text()
    assert (tmp_path / "a.md").read_text().endswith("Our reading: keep me.\n")


@pytest.mark.parametrize("name", ["constant", "cosine", "multistep", "step", "one-cycle"])
def test_device_reference_puts_a_pulsed_rule_on_floating_point_tiles(name: str) -> None:
    """Gokmen-Vlasov's per-layer rule on tiles that have no device of their own: pulses x dw_min / s per group."""
    dw_min = presets.get("gokmen-vlasov").rpu_config().device.dw_min
    xd = [0.02, 0.005]
    peak = {"max_lr": 0.05, "analog_max_lr": "device"} if name == "one-cycle" else {"lr": 0.05, "analog_lr": "device"}
    _, opt = analog_setup("fp-tile")
    sched = schedules.build(name, opt, epochs=2, steps_per_epoch=4, xd_product=xd, device_pulses=3.0,
                            device_reference="gokmen-vlasov", **peak)
    peaks = sched.peak_lrs[1:] if name == "one-cycle" else [opt.param_groups[i]["lr"] for i in (1, 2)]
    assert peaks == pytest.approx([3 * dw_min / 0.02, 3 * dw_min / 0.005])
    if name != "one-cycle":
        assert_tiles_synced(opt)
    # without a reference, floating-point tiles have no device unit: they keep the schedule's LR
    _, opt = analog_setup("fp-tile")
    schedules.build("constant", opt, lr=0.05, analog_lr="device", xd_product=xd, device_pulses=3.0)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.05, 0.05]
    with pytest.raises(ValueError, match=r"device_reference='pytorch' has no pulsed device with a dw_min: name a "
                                         r"pulsed preset such as 'gokmen-vlasov'"):
        schedules.build("constant", opt, lr=0.05, analog_lr="device", xd_product=xd, device_reference="pytorch")


def test_floating_point_tile_is_a_tile_lr_preset_listed_by_its_kind() -> None:
    preset = presets.get("fp-tile")
    assert (preset.name, preset.kind) == ("floating-point-tile", "floating-point")
    _, opt = analog_setup("fp-tile")
    from aihwkit_sc.schedules.analog import is_analog_group

    # one group per tile, taking the tile LR like an analog device (the digital parameters in group 0)
    assert [is_analog_group(g) for g in opt.param_groups] == [False, True, True]
    from click.testing import CliRunner

    from aihwkit_sc.cli import main

    listed = CliRunner().invoke(main, ["presets", "list", "--kind", "floating-point", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [p["name"] for p in json.loads(listed.output)] == ["floating-point-tile"]


def load_study() -> Any:
    spec = importlib.util.spec_from_file_location("study_ablation", SCRIPT)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_transplant_trains_floating_point_tiles_with_the_pulsed_rule_and_is_reported_paired() -> None:
    study = load_study()
    args = study.parse([])
    assert study.run_spec("floating-point-tile+gv-rule", "one-cycle", 2.0) == (
        "one-cycle", {"max_lr": 0.1, "analog_max_lr": "device", "device_pulses": 2.0,
                      "device_reference": "gokmen-vlasov"}, 0.1)
    assert study.run_spec("floating-point-tile", "anneal", 4.0)[1] == {"lr": pytest.approx(0.4), "min_lr": 0.0}
    job = study.to_job({"device": "floating-point-tile+gv-rule", "policy": "constant", "phase": "tune", "scale": 1.0,
                        "budget": 3, "seed": 0}, args)
    assert job.config.preset == "floating-point-tile"
    assert job.config.schedule_options["device_reference"] == "gokmen-vlasov"
    assert study.scale_grid("floating-point-tile", args) == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
    assert study.scale_grid("floating-point-tile", study.parse(["--digital-scales", "1"])) == [1.0]
    rule = [0.91, 0.93, 0.95]
    glob = [0.90, 0.90, 0.94]
    rows = [{"device": d, "policy": "constant", "phase": "final", "scale": s, "budget": 3, "seed": 100 + i,
             "status": "complete", "accuracies": [a], "final_accuracy": a, "xd_first": [], "xd_last": []}
            for d, s, accs in (("floating-point-tile+gv-rule", 2.0, rule), ("floating-point-tile", 4.0, glob))
            for i, a in enumerate(accs)]
    rows += [{"device": d, "policy": "constant", "phase": "tune", "scale": s, "budget": 3, "seed": 0,
              "status": "complete", "accuracies": [0.9], "final_accuracy": 0.9}
             for d, s in (("floating-point-tile+gv-rule", 2.0), ("floating-point-tile", 4.0))]
    diffs = [100 * (a - b) for a, b in zip(rule, glob, strict=True)]
    mean, sd = statistics.mean(diffs), statistics.stdev(diffs)
    low, high = stats.t.interval(0.95, 2, loc=mean, scale=sd / math.sqrt(3))
    page = "\n".join(study.transplant_section(rows))
    assert "## Is the per-layer LR a device effect?" in page
    assert (f"| floating-point-tile | 3 | constant | 2 | 4 | 3 | 93.00 ± 2.00 | 91.33 ± 2.31 | {mean:+.2f} | "
            f"[{low:+.2f}, {high:+.2f}] | no difference |") in page
    # a pulsed preset with one global LR: every layer, analog ones included, at scale x 0.1
    assert study.run_spec("gokmen-vlasov+global", "one-cycle", 4.0) == (
        "one-cycle", {"max_lr": pytest.approx(0.4), "analog_max_lr": None}, pytest.approx(0.4))
    assert study.preset_of("gokmen-vlasov+global") == "gokmen-vlasov"


def test_finals_left_at_an_earlier_tuned_scale_are_not_compared() -> None:
    study = load_study()

    def row(policy: str, phase: str, scale: float, seed: int, acc: float) -> dict[str, Any]:
        return {"device": "floating-point-tile", "policy": policy, "phase": phase, "scale": scale, "budget": 3,
                "seed": seed, "status": "complete", "accuracies": [acc], "final_accuracy": acc}

    rows = [row("one-cycle", "tune", 8.0, 0, 0.95), row("one-cycle", "tune", 16.0, 0, 0.97),
            row("one-cycle", "final", 8.0, 100, 0.90), row("one-cycle", "final", 16.0, 100, 0.96),
            row("ref:poster-step", "final", 1.0, 100, 0.80)]
    kept = study.current_finals(rows)
    assert [(r["policy"], r["scale"]) for r in kept] == [("one-cycle", 16.0), ("ref:poster-step", 1.0)]


def test_a_run_at_chance_is_recorded_collapsed_and_older_rows_are_read_so(tmp_path: Path) -> None:
    study = load_study()
    meta = {"device": "ecram", "policy": "constant", "phase": "final", "scale": 2.0, "budget": 3, "seed": 100}
    record = {"summary": {"status": "complete"},
              "metrics": [{"test_accuracy": a, "wall_time_s": 1.0} for a in (0.1, 0.098, 0.102)]}
    row = study.compact(record, meta)
    assert row["status"] == "collapsed" and row["final_accuracy"] == 0.102  # named, and its accuracy kept
    learned = study.compact({**record, "metrics": [{"test_accuracy": 0.1, "wall_time_s": 1.0},
                                                   {"test_accuracy": 0.6, "wall_time_s": 1.0}]}, meta)
    assert learned["status"] == "complete"
    old = tmp_path / "a.csv"  # a row written before the label existed says complete
    study.append_row(old, {**row, "status": "complete"})
    study.append_row(old, {**learned, "seed": 101})
    assert [r["status"] for r in study.read_rows(old)] == ["collapsed", "complete"]


def test_a_pinned_rerun_is_paired_with_the_tuned_runs_in_its_own_section() -> None:
    study = load_study()
    assert study.parse(["--pin", "semi-ideal/anneal=1"]).pin == {"semi-ideal/anneal": 1.0}
    for bad in ("semi-ideal/anneal", "anneal=1", "semi-ideal/anneal=x"):
        with pytest.raises(SystemExit):
            study.parse(["--pin", bad])

    def r(policy: str, phase: str, scale: float, seed: int, acc: float) -> dict[str, Any]:
        return {"device": "semi-ideal", "policy": policy, "phase": phase, "scale": scale, "budget": 3 if phase ==
                "tune" else 5, "seed": seed, "status": "complete", "accuracies": [acc], "final_accuracy": acc,
                "xd_first": [], "xd_last": []}

    rows = [r("anneal", "tune", 1.0, 0, 0.90), r("anneal", "tune", 2.0, 0, 0.92),
            r("one-cycle", "tune", 1.0, 0, 0.93)]
    rows += [r("anneal", "final", 2.0, 100 + s, a) for s, a in enumerate((0.950, 0.952, 0.948))]  # tuned: x2
    rows += [r("one-cycle", "final", 1.0, 100 + s, a) for s, a in enumerate((0.970, 0.972, 0.971))]
    assert study.other_scales_section(rows) == []  # nothing pinned yet
    pinned = [r("anneal", "final", 1.0, 100 + s, a) for s, a in enumerate((0.955, 0.957, 0.950))]
    lines = study.other_scales_section(rows + pinned)
    row = next(line for line in lines if line.startswith("| semi-ideal | anneal |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2:6] == ["1 (tuned 2)", "5", "3", "95.40 ± 0.36"]
    diffs = [1.5, 1.5, 2.1]  # tuned one-cycle - pinned anneal, points
    mean = statistics.mean(diffs)
    low, high = stats.t.interval(0.95, 2, loc=mean, scale=statistics.stdev(diffs) / math.sqrt(3))
    assert cells[6] == f"{mean:+.2f} [{low:+.2f}, {high:+.2f}] tuned one-cycle better"
    assert cells[7].endswith("no difference")  # tuned anneal (x2) - pinned anneal (x1): -0.5, -0.5, -0.2
    assert all(line not in study.report(rows, study.parse([])) for line in lines if line.startswith("| semi"))
