"""The command line's short flags mean one thing everywhere; the demo's sandbox is the user's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from invoke import Collection, Task

import tacfleet_cli as cli
import tasks


def walk(collection: Collection, prefix: str = "") -> Iterator[tuple[str, Task]]:
    for name, task in collection.tasks.items():
        yield prefix + name, task
    for name, sub in collection.collections.items():
        yield from walk(sub, f"{prefix}{name}.")


def short_flags(task: Task) -> dict[str, str]:
    return {a.names[1]: a.names[0] for a in task.get_arguments() if len(a.names) > 1}


@pytest.mark.parametrize("flag, meaning", [("h", "host"), ("i", "inventory")])
def test_a_short_flag_means_the_same_option_in_every_task(flag, meaning):
    for name, task in walk(tasks.ns):
        flags = short_flags(task)
        if flag in flags:
            assert flags[flag] == meaning, f"{name}: -{flag} is --{flags[flag]}"
        if any(a.name == meaning for a in task.get_arguments()):
            assert flags.get(flag) == meaning, f"{name}: --{meaning} has no -{flag}"


def test_debug_is_d_wherever_d_is_free():
    for name, task in walk(tasks.ns):
        flags = short_flags(task)
        if "debug" in flags.values() and "dry-run" not in flags.values():
            assert flags.get("d") == "debug", name


def test_sandbox_fault_has_no_short_flags():
    assert short_flags(tasks.sandbox_fault) == {}


def test_demo_sandbox_is_named_for_the_user(monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "Ana María.O'Neil")
    name = cli.demo_name()
    assert name.startswith("demo-Ana-Mar") and len(name) <= 31
    assert all(c.isalnum() or c in "-_" for c in name)
    assert short_flags(tasks.demo) == {"n": "name"}


def test_host_help_states_globs_and_exclusions():
    assert "web*" in tasks.HOST_HELP and "!name" in tasks.HOST_HELP


def test_the_run_log_is_l_in_every_task_that_writes_one():
    logged = {name: short_flags(task) for name, task in walk(tasks.ns)
              if any(a.name == "log" for a in task.get_arguments())}
    assert set(logged) == {"provision", "deprovision", "drift.run"}
    assert all(flags.get("l") == "log" for flags in logged.values()), logged
