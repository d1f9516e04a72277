"""The one builder of the tacfleet command a fix names (``inventory.rerun``)."""

from __future__ import annotations

import shlex
from pathlib import Path

from inventory.errors import Problem
from inventory.rerun import command, program, runnable


def test_a_checkout_says_invoke():
    assert program() == "invoke"


def test_the_command_reads_back_as_the_same_arguments_in_a_posix_shell():
    line = command("provision", "--force-recreate", host="web 01$(x)",
                   inventory="/srv/it's here/prod.yml")
    assert shlex.split(line) == ["invoke", "provision", "--force-recreate", "--host",
                                 "web 01$(x)", "--inventory", "/srv/it's here/prod.yml"]


def test_a_relative_inventory_is_spelled_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert command("plan", host="web01", inventory="inventory/prod.yml") == (
        f"invoke plan --host web01 --inventory {tmp_path / 'inventory/prod.yml'}")


def test_each_tacfleet_command_in_a_fix_is_completed_and_nothing_else():
    fix = ("`sc config tacdemo start= auto` or `invoke provision`; rebuild: `invoke provision "
           "--force-recreate`; `invoke doctor --host HOST` shows which layer fails")
    assert runnable(fix, "web01", "/srv/prod.yml") == (
        "`sc config tacdemo start= auto` or `invoke provision --host web01 --inventory "
        "/srv/prod.yml`; rebuild: `invoke provision --force-recreate --host web01 --inventory "
        "/srv/prod.yml`; `invoke doctor --host web01 --inventory /srv/prod.yml` shows which "
        "layer fails")


def test_a_fix_about_the_inventory_names_no_host_and_a_task_without_hosts_gets_none():
    assert runnable("`invoke bundle`", None, "/srv/p.yml") == (
        "`invoke bundle --inventory /srv/p.yml`")
    assert runnable("`invoke inventory.validate`", "web01", "/srv/p.yml") == (
        "`invoke inventory.validate --inventory /srv/p.yml`")
    assert runnable("`invoke sandbox.up --name x`", "web01", "/srv/p.yml") == (
        "`invoke sandbox.up --name x`")


def test_an_inventory_problem_names_its_file_and_host():
    problem = Problem("inv/prod.yml", "no lock", "build the bundle: `invoke bundle`",
                      hosts=("web01",), field="python.bundle")
    assert str(problem).endswith(
        f"fix: build the bundle: `invoke bundle --host web01 --inventory "
        f"{Path('inv/prod.yml').absolute()}`")
