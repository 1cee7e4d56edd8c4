"""The chunk reader runs one item ahead of its caller: in order, errors where they happened,
and never further ahead than one item."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from rendezvous.read_ahead import read_ahead


class Broken(Exception):
    pass


def test_the_next_item_is_fetched_while_the_caller_holds_this_one() -> None:
    fetched = [threading.Event() for _ in range(4)]

    def items() -> Iterator[int]:
        for n in range(3):
            fetched[n].set()
            yield n
        fetched[3].set()  # past the end

    seen = []
    for item in read_ahead(items()):
        assert fetched[item + 1].wait(timeout=20), f"item {item + 1} was not fetched ahead"
        seen.append(item)
    assert seen == [0, 1, 2]


def test_an_error_reaches_the_caller_after_the_items_before_it() -> None:
    def items() -> Iterator[str]:
        yield "a"
        yield "b"
        raise Broken("row 7, column kwh: not a number")

    seen = []
    with pytest.raises(Broken, match="row 7"):
        for item in read_ahead(items()):
            seen.append(item)
    assert seen == ["a", "b"]


def test_a_caller_that_stops_early_leaves_the_rest_unread() -> None:
    produced = []

    def items() -> Iterator[int]:
        for n in range(100):
            produced.append(n)
            yield n

    reader = read_ahead(items())
    assert next(reader) == 0
    reader.close()
    assert produced == [0, 1]  # the one read ahead, no more
