"""The command line's short flags mean one thing everywhere; the demo's sandbox is the user's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from invoke import Collection, Task

import tacfleet_cli as cli
import tacfleet_tasks as tasks


def walk(collection: Collection, prefix: str = "") -> Iterator[tuple[str, Task]]:
    for name, task in collection.tasks.items():
        yield prefix + name, task
    for name, sub in collection.collections.items():
        yield from walk(sub, f"{prefix}{name}.")


def short_flags(task: Task) -> dict[str, str]:
    return {a.names[1]: a.names[0] for a in task.get_arguments() if len(a.names) > 1}


def test_a_short_flag_means_one_option_in_every_task():
    meanings: dict[str, set[str]] = {}
    for _name, task in walk(tasks.ns):
        for flag, option in short_flags(task).items():
            meanings.setdefault(flag, set()).add(option)
    assert meanings == {flag: {option} for option, flag in tasks.SHORT_FLAGS.items()}


@pytest.mark.parametrize("option", sorted(tasks.SHORT_FLAGS))
def test_every_task_with_a_common_option_has_its_short_flag(option):
    for name, task in walk(tasks.ns):
        if any(a.name == option for a in task.get_arguments()):
            assert short_flags(task).get(tasks.SHORT_FLAGS[option]) == option, name


def test_sandbox_fault_has_no_h():  # -h was --http-500 there and --host everywhere else
    assert "h" not in short_flags(tasks.sandbox_fault)


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
    assert set(logged) == {"provision", "rollback", "deprovision", "drift.run"}
    assert all(flags.get("l") == "log" for flags in logged.values()), logged


def test_provision_flags_are_the_options_of_provision_options():
    import dataclasses
    import inspect

    from provision.options import DEFAULTS, ProvisionOptions

    parameters = inspect.signature(tasks.provision.body).parameters
    flags = ProvisionOptions.flag_help()
    assert set(parameters) - set(flags) == {"c", "host", "inventory", "debug", "log"}
    for option in dataclasses.fields(ProvisionOptions):  # the task's defaults are the options'
        flag = option.metadata["flag"] or option.name
        assert parameters[flag].default == getattr(DEFAULTS, option.name), flag
    chosen = ProvisionOptions.from_flags({"dry_run": True, "json": True, "parallel": 7,
                                          "host": "web01"})
    assert chosen == ProvisionOptions(check=True, as_json=True, parallel=7)
    assert ProvisionOptions.from_flags({}) == DEFAULTS


def test_each_sandbox_module_runs_in_exactly_one_of_the_two_streams():
    from pathlib import Path

    root = Path(cli.__file__).parent
    sandbox = {path.name for path in (root / "tests" / "integration").glob("test_*.py")
               if "pytest.mark.sandbox" in path.read_text(encoding="utf-8")}
    first, second = cli.suite_runs()[1]
    ignored = {arg.rpartition("/")[2] for arg in first[1] if arg.startswith("--ignore=")}
    named = {arg.rpartition("/")[2] for arg in second[1] if arg.endswith(".py")}
    assert ignored == named == set(cli.SECOND_SANDBOX_STREAM) < sandbox
    assert "test_provision_e2e.py" not in named  # it provisions the first stream's host
