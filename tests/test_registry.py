"""The generic registry: duplicates, aliases, close-match errors, filtering, origin."""

from __future__ import annotations

import pytest

from aihwkit_sc.registry import DuplicateNameError, Registry, RegistryError, UnknownNameError


@pytest.fixture
def reg() -> Registry[int]:
    r: Registry[int] = Registry("preset")
    r.register("gokmen-vlasov", 1, aliases=["gv"], plugin="builtin")
    r.register("semi-ideal", 2, aliases=["si"], plugin="builtin")
    r.register("pytorch", 3, aliases=["n", "normal"], plugin="builtin")
    r.register("reram-es", 4, plugin="other")
    return r


def test_lookup_by_name_and_alias(reg: Registry[int]) -> None:
    assert reg.get("gokmen-vlasov") == reg.get("gv") == 1
    assert reg.resolve("normal") == "pytorch"
    assert reg.entry("si").plugin == "builtin"
    assert reg.entry("reram-es").plugin == "other"
    assert "gv" in reg and "nope" not in reg and 3 not in reg
    assert len(reg) == 4


def test_unknown_name_suggests_close_matches(reg: Registry[int]) -> None:
    with pytest.raises(UnknownNameError) as info:
        reg.get("gokmen")
    assert str(info.value) == "unknown preset 'gokmen': did you mean 'gokmen-vlasov'?"
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)


def test_unknown_name_via_alias_typo_names_canonical(reg: Registry[int]) -> None:
    with pytest.raises(UnknownNameError, match=r"did you mean 'semi-ideal'\?"):
        reg.get("semi-idael")


def test_unknown_name_without_close_match_lists_choices(reg: Registry[int]) -> None:
    with pytest.raises(UnknownNameError, match=r"^unknown preset 'xyz': choose one of gokmen-vlasov, pytorch"):
        reg.get("xyz")
    with pytest.raises(UnknownNameError, match="no presets are registered"):
        Registry[int]("preset").get("x")


@pytest.mark.parametrize("name", ["gokmen-vlasov", "gv", "si"])
def test_duplicate_names_and_aliases_raise(reg: Registry[int], name: str) -> None:
    with pytest.raises(DuplicateNameError, match=f"'{name}' is already registered by plugin 'builtin'"):
        reg.register(name, 9, plugin="late")
    with pytest.raises(DuplicateNameError):
        reg.register("fresh", 9, aliases=[name])
    assert "fresh" not in reg  # nothing half-registered


def test_repeated_alias_and_bad_names(reg: Registry[int]) -> None:
    with pytest.raises(DuplicateNameError, match="same alias twice"):
        reg.register("x", 0, aliases=["y", "y"])
    with pytest.raises(RegistryError, match="non-empty strings"):
        reg.register("", 0)


def test_listing_is_sorted_and_filters_on_names_and_aliases(reg: Registry[int]) -> None:
    assert reg.names() == ["gokmen-vlasov", "pytorch", "reram-es", "semi-ideal"]
    assert list(reg) == reg.names()
    assert reg.names(include="*-*") == ["gokmen-vlasov", "reram-es", "semi-ideal"]
    assert reg.names(include=["g*", "n"]) == ["gokmen-vlasov", "pytorch"]
    assert reg.names(exclude="*-*") == ["pytorch"]
    assert reg.names(include="*e*", exclude=["reram-*", "si"]) == ["gokmen-vlasov"]


def test_unregister_removes_aliases(reg: Registry[int]) -> None:
    entry = reg.unregister("gv")
    assert entry.name == "gokmen-vlasov"
    assert "gv" not in reg and "gokmen-vlasov" not in reg
    reg.register("gv", 5)  # the alias is free again
    assert reg.get("gv") == 5
