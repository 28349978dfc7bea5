"""A pool's fields: parsing with errors naming the field, defaults, PATCH, traits, reserve sizes."""

from __future__ import annotations

import re

import pytest

from cyborg_lite import exception
from cyborg_lite.lending import pools

PLACEMENT_CUSTOM_TRAIT = re.compile(r"CUSTOM_[A-Z0-9_]+")


def test_defaults_are_explicit_and_round_trip():
    pool = pools.parse({"name": "team-a"})
    assert pool.to_dict() == {
        "name": "team-a",
        "reserve": {"count": 0},
        "min_idle_seconds": 3600,
        "notice_seconds": 600,
        "on_reclaim": "stop",
        "borrower_project_ids": None,
        "timezone": "UTC",
    }
    assert pools.from_dict(pool.to_dict()) == pool


def test_a_full_body_round_trips_and_other_keys_are_the_apis():
    body = {
        "name": "gpu.night",
        "reserve": {"share": 0.25},
        "min_idle_seconds": 0,
        "notice_seconds": 30,
        "on_reclaim": "shelve",
        "borrower_project_ids": ["p1", "p2"],
        "timezone": "Europe/Berlin",
    }
    pool = pools.parse({**body, "selector": {"hosts": ["h"]}, "owner_project_id": "o"})
    assert pool.to_dict() == body
    assert pool.reserve == pools.Reserve(count=None, share=0.25)


@pytest.mark.parametrize(
    ("name", "trait"),
    [
        ("team-a.gpus", "CUSTOM_CYBORG_POOL_TEAM_A_GPUS"),
        ("Night_Pool", "CUSTOM_CYBORG_POOL_NIGHT_POOL"),
        ("h100", "CUSTOM_CYBORG_POOL_H100"),
    ],
)
def test_the_pool_trait_is_the_name_upper_cased(name, trait):
    pool = pools.parse({"name": name})
    assert pool.trait == pools.pool_trait(name) == trait
    assert PLACEMENT_CUSTOM_TRAIT.fullmatch(trait)


def test_the_longest_name_makes_a_trait_of_255_characters():
    name = "a" * pools.NAME_MAX_LENGTH
    assert len(pools.parse({"name": name}).trait) == 255
    with pytest.raises(exception.Invalid, match=r"^name: "):
        pools.parse({"name": name + "a"})


def test_names_that_differ_in_case_or_punctuation_share_a_trait():
    # Why the store must keep a pool's trait unique.
    assert pools.pool_trait("gpu-a") == pools.pool_trait("GPU_A") == pools.pool_trait("gpu.a")


def test_the_lendable_trait_is_a_custom_trait():
    assert pools.LENDABLE_TRAIT == "CUSTOM_CYBORG_LENDABLE"
    assert PLACEMENT_CUSTOM_TRAIT.fullmatch(pools.LENDABLE_TRAIT)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "-a"}, "name"),
        ({"name": "a b"}, "name"),
        ({"name": "équipe"}, "name"),
        ({"name": 5}, "name"),
        ({"name": "a", "reserve": {}}, "reserve"),
        ({"name": "a", "reserve": {"count": 1, "share": 0.5}}, "reserve"),
        ({"name": "a", "reserve": {"counts": 1}}, "reserve"),
        ({"name": "a", "reserve": 2}, "reserve"),
        ({"name": "a", "reserve": {"count": -1}}, "reserve.count"),
        ({"name": "a", "reserve": {"count": 1.0}}, "reserve.count"),
        ({"name": "a", "reserve": {"count": True}}, "reserve.count"),
        ({"name": "a", "reserve": {"count": 2**31}}, "reserve.count"),
        ({"name": "a", "reserve": {"share": 1}}, "reserve.share"),
        ({"name": "a", "reserve": {"share": 25}}, "reserve.share"),
        ({"name": "a", "reserve": {"share": -0.1}}, "reserve.share"),
        ({"name": "a", "reserve": {"share": "0.5"}}, "reserve.share"),
        ({"name": "a", "reserve": {"share": False}}, "reserve.share"),
        ({"name": "a", "min_idle_seconds": -1}, "min_idle_seconds"),
        ({"name": "a", "min_idle_seconds": 1.5}, "min_idle_seconds"),
        ({"name": "a", "notice_seconds": None}, "notice_seconds"),
        ({"name": "a", "notice_seconds": 10**30}, "notice_seconds"),
        ({"name": "a", "on_reclaim": "kill"}, "on_reclaim"),
        ({"name": "a", "on_reclaim": "STOP"}, "on_reclaim"),
        ({"name": "a", "borrower_project_ids": "p1"}, "borrower_project_ids"),
        ({"name": "a", "borrower_project_ids": [""]}, "borrower_project_ids"),
        ({"name": "a", "borrower_project_ids": [1]}, "borrower_project_ids"),
        ({"name": "a", "borrower_project_ids": ["p", "p"]}, "borrower_project_ids"),
        ({"name": "a", "timezone": "Europe"}, "timezone"),
        ({"name": "a", "timezone": "Mars/Olympus"}, "timezone"),
    ],
)
def test_bad_fields_are_errors_naming_the_field(body, field):
    with pytest.raises(exception.Invalid) as err:
        pools.parse(body)
    assert err.value.message.startswith(f"{field}: ")


def test_a_share_of_zero_and_a_count_larger_than_the_pool_are_allowed():
    assert pools.parse({"name": "a", "reserve": {"share": 0}}).reserve.size(10) == 0
    assert pools.parse({"name": "a", "reserve": {"count": 50}}).reserve.size(10) == 10


@pytest.mark.parametrize(
    ("share", "size", "kept"),
    [
        (0.25, 4, 1),
        (0.25, 3, 1),  # rounded up: owners come first
        (0.25, 0, 0),
        (0.3, 10, 3),  # as written, not 0.30000000000000004
        (0.1, 10, 1),
        (0.01, 1, 1),
        (0.5, 7, 4),
        (0.999, 1000, 999),
        (0.9999, 3, 3),
    ],
)
def test_a_share_is_rounded_up(share, size, kept):
    assert pools.Reserve(count=None, share=share).size(size) == kept


def test_a_count_keeps_at_most_the_pool():
    assert pools.Reserve(count=2).size(5) == 2
    assert pools.Reserve(count=2).size(1) == 1
    assert pools.Reserve().size(5) == 0


def test_update_changes_only_the_fields_given():
    pool = pools.parse({"name": "a", "notice_seconds": 30, "timezone": "Europe/Berlin"})
    changed = pools.update(pool, {"reserve": {"count": 2}, "borrower_project_ids": ["b"]})
    assert changed.reserve == pools.Reserve(count=2)
    assert changed.borrower_project_ids == ("b",)
    assert (changed.name, changed.notice_seconds, changed.timezone) == ("a", 30, "Europe/Berlin")
    assert pools.update(changed, {"borrower_project_ids": None}).borrower_project_ids is None
    assert pools.update(pool, {"name": "b"}).trait == "CUSTOM_CYBORG_POOL_B"
    with pytest.raises(exception.Invalid, match=r"^on_reclaim: "):
        pools.update(pool, {"on_reclaim": "nope"})


def test_lends_to_any_project_or_only_the_listed_ones():
    anyone = pools.parse({"name": "a"})
    listed = pools.parse({"name": "a", "borrower_project_ids": ["p1"]})
    nobody = pools.parse({"name": "a", "borrower_project_ids": []})
    assert anyone.lends_to("p9")
    assert listed.lends_to("p1")
    assert not listed.lends_to("p9")
    assert not nobody.lends_to("p1")
