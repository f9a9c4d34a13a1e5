"""Table 1 specs: all twelve rows parsed from the poster's own text."""

from __future__ import annotations

from pathlib import Path

import pytest

from aihwkit_sc.experiments import table1

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed"


def test_twelve_rows_parsed() -> None:
    rows = table1.load_rows()
    assert len(rows) == 12
    assert [r.id for r in rows] == [
        "cifar10-resnet18-step-100", "cifar10-resnet18-step-200", "cifar10-resnet18-one-cycle-25",
        "cifar10-resnet18-one-cycle-50", "cifar10-vgg8-step-50", "cifar10-vgg8-one-cycle-25", "svhn-vgg8-step-50",
        "svhn-vgg8-one-cycle-25", "mnist-lenet5-step-50", "mnist-lenet5-step-85", "mnist-lenet5-one-cycle-12",
        "mnist-lenet5-one-cycle-25",
    ]


def test_step_row() -> None:
    row = table1.load_rows()[0]
    assert (row.dataset, row.model, row.batch_size, row.epochs) == ("cifar10", "resnet18", 512, 100)
    assert row.schedule == "step" and row.schedule_options == {"lr": 0.01, "gamma": 0.5, "step_size": 10.0}
    assert row.momentum == 0.9 and row.weight_decay == pytest.approx(1e-4) and row.policy == "normal"
    assert row.paper == {"pytorch": (80.01, 0.10), "semi-ideal": (66.74, 0.52), "gokmen-vlasov": (54.32, 0.37)}


def test_one_cycle_rows() -> None:
    rows = {r.id: r for r in table1.load_rows()}
    row = rows["cifar10-resnet18-one-cycle-50"]
    assert row.schedule_options == {"max_lr": 0.5, "div_factor": 5.0, "pct_start": 23 / 50, "max_momentum": 0.95,
                                    "base_momentum": 0.85}
    assert row.lr == 0.5 and row.momentum == 0.95 and row.policy == "SC"
    mnist = rows["mnist-lenet5-one-cycle-12"]
    assert mnist.schedule_options["div_factor"] == pytest.approx(10.0)
    assert mnist.schedule_options["pct_start"] == pytest.approx(5 / 12)
    assert mnist.weight_decay == pytest.approx(5e-4) and mnist.batch_size == 512
    assert mnist.paper["gokmen-vlasov"] == (90.07, 1.11)
    assert rows["svhn-vgg8-one-cycle-25"].paper["semi-ideal"] == (93.04, 0.78)


@pytest.mark.skipif(not SEED.is_dir(), reason="the poster's text lives in ../shared/seed beside the checkout")
def test_packaged_table_is_the_posters_text_verbatim() -> None:
    from importlib import resources

    poster = next(SEED.glob("*.txt")).read_text().splitlines()
    packaged = resources.files("aihwkit_sc.experiments").joinpath("data/table1.tsv").read_text().splitlines()
    for line in packaged:
        assert line in poster


@pytest.mark.parametrize(("text", "value"), [("$10^{-4}$", 1e-4), ("$5 \\times 10^{-4}$", 5e-4)])
def test_weight_decay(text: str, value: float) -> None:
    assert table1.parse_weight_decay(text) == pytest.approx(value)


def test_parse_errors() -> None:
    with pytest.raises(ValueError, match=r"cannot read weight decay .1e-4."):
        table1.parse_weight_decay("1e-4")
    with pytest.raises(ValueError, match=r"cannot read accuracy .80\.01."):
        table1.parse_accuracy("80.01")
    with pytest.raises(ValueError, match=r"cannot read policy 'cos/0\.1'"):
        table1.parse_policy("cos/0.1", "0.9", 10)


def test_select() -> None:
    rows = table1.load_rows()
    assert [r.index for r in table1.select(rows, "mnist-*")] == [9, 10, 11, 12]
    assert [r.id for r in table1.select(rows, "1,svhn-*-25")] == ["cifar10-resnet18-step-100",
                                                                    "svhn-vgg8-one-cycle-25"]
    with pytest.raises(ValueError, match="--rows entry 'imagenet' matches no row: row ids are cifar10-resnet18-step"):
        table1.select(rows, "imagenet")
    assert table1.select(rows, None) == rows


def test_select_names_every_entry_that_matches_nothing() -> None:
    rows = table1.load_rows()
    with pytest.raises(ValueError, match=r"^--rows entry 'bogus' matches no row: row ids are "
                                         r"cifar10-resnet18-step-100, .*, mnist-lenet5-one-cycle-25 "
                                         r"\(or indices 1-12\)$"):
        table1.select(rows, "mnist-*,bogus")  # used to give the four mnist rows, dropping 'bogus' without a word
    with pytest.raises(ValueError, match=r"^--rows entry 'svhn-vgg8-step50' matches no row: did you mean "
                                         r"'svhn-vgg8-step-50'"):
        table1.select(rows, "1, svhn-vgg8-step50")
    with pytest.raises(ValueError, match=r"^--rows entry '0' matches no row"):
        table1.select(rows, "0")
    with pytest.raises(ValueError, match=r"^--rows ' , ' names no row"):
        table1.select(rows, " , ")
