"""Ids are UUIDv7 and strictly increasing within a process, even under a frozen clock."""

from __future__ import annotations

import uuid

from aboguard.ids import new_id


def test_ids_made_in_one_millisecond_still_increase() -> None:
    made = [new_id(1_700_000_000_000) for _ in range(5000)]  # more than the 12-bit counter holds
    assert made == sorted(made) and len(set(made)) == len(made)
    parsed = [uuid.UUID(i) for i in made]
    assert {u.version for u in parsed} == {7} and {u.variant for u in parsed} == {uuid.RFC_4122}
    assert new_id(1_700_000_000_000 + 60_000) > made[-1]


def test_the_id_carries_the_clock_millisecond() -> None:
    # ids only increase within a process: use an instant after any test clock's (some tests live into 2027)
    made = uuid.UUID(new_id(3_800_000_000_123))
    assert made.int >> 80 == 3_800_000_000_123


def test_a_forked_child_makes_other_ids_than_its_parent() -> None:
    import os

    new_id(1_700_000_000_000)  # the random pool is filled in the parent
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the ids it makes next
        os.write(write, ",".join(new_id(1_700_000_000_000) for _ in range(5)).encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 10_000).decode().split(",")
    os.waitpid(pid, 0)
    parent = [new_id(1_700_000_000_000) for _ in range(5)]
    assert len(child) == 5 and not set(child) & set(parent)
