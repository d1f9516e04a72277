"""The one place secrets are masked (``inventory.secrets``): remembered values, URL user-info and
NSSM's AppEnvironmentExtra as a host reports it."""

from __future__ import annotations

import json

import pytest

from inventory import load_inventory
from inventory.secrets import environment_shown, mask_urls, redact, redact_data
from tests.support import ROOT

TOKEN = "canary-tok-5e21"


@pytest.mark.parametrize(("text", "shown"), [
    (f"https://deploy:{TOKEN}@pypi.example.com/simple/",
     "https://***@pypi.example.com/simple/"),
    (f"--index-url http://{TOKEN}@127.0.0.1:8080/simple -q",
     "--index-url http://***@127.0.0.1:8080/simple -q"),
    (f'"git+https://u:p%40ss{TOKEN}@git.example/x.git"', '"git+https://***@git.example/x.git"'),
    (f"https://u:p@ss{TOKEN}@host/x?a=b@c", "https://***@host/x?a=b@c"),  # a raw @ in it
    ("https://pypi.org/simple, mail@example.com", "https://pypi.org/simple, mail@example.com"),
])
def test_url_user_info_is_masked_wherever_a_url_appears(text, shown):
    assert mask_urls(text) == shown
    assert TOKEN not in redact(text)  # (other tests' remembered values may mask more)


def test_an_inventory_url_s_credentials_are_masked_even_without_their_url(tmp_path):
    text = (ROOT / "inventory" / "hosts.yml").read_text().replace(
        "../sandbox/demoapp", str(ROOT / "sandbox" / "demoapp")).replace(
        "      wheelhouse: C:\\wheels",
        f"      index_url: https://deploy:{TOKEN}%21@pypi.example.com/simple")
    (tmp_path / "hosts.yml").write_text(text)
    load_inventory(tmp_path / "hosts.yml")
    # pip and requests print a URL's password percent-decoded, and sometimes alone
    assert redact(f"auth failed for {TOKEN}! as deploy") == "auth failed for *** as deploy"
    assert TOKEN not in redact(f"deploy:{TOKEN}%21")


def test_a_host_s_environment_shows_names_only_in_json_data():
    facts = {"web01": {"service": {"parameters": {
        "AppEnvironmentExtra": ["DB_PASSWORD=hunter2-xyz", "PORT=8080"],
        "AppDirectory": "C:\\Apps\\tacdemo"}}}}
    shown = json.dumps(redact_data(facts))
    assert "hunter2-xyz" not in shown and "8080" not in shown
    assert redact_data(facts)["web01"]["service"]["parameters"] == {
        "AppEnvironmentExtra": ["DB_PASSWORD=***", "PORT=***"], "AppDirectory": "C:\\Apps\\tacdemo"}
    # one entry: nssm's REG_SZ form, as a string
    assert redact_data({"AppEnvironmentExtra": "A=b=c"}) == {"AppEnvironmentExtra": ["A=***"]}
    assert environment_shown(["X=1", "Y="]) == ["X=***", "Y=***"]


@pytest.mark.parametrize(("url", "bare", "netrc"), [
    ("https://deploy:tok%21en@Pypi.Example.com:8443/simple/",
     "https://Pypi.Example.com:8443/simple/",
     b"machine pypi.example.com\nlogin deploy\npassword tok!en\n"),
    ("https://pypi.example.com/simple", "https://pypi.example.com/simple", None),
])
def test_index_credentials_become_a_netrc_and_leave_the_url(url, bare, netrc):
    from inventory.secrets import netrc_for, netrc_problem

    assert netrc_problem(url) is None
    assert netrc_for(url) == (bare, netrc)


@pytest.mark.parametrize(("url", "why"), [
    ("https://zq9-only@pypi.example.com/simple", "has a user but no password"),
    ("https://deploy:zq9%20en@pypi.example.com/simple", "a netrc file cannot carry"),
    ("https://deploy:zq9%22k@pypi.example.com/simple", "a netrc file cannot carry"),
    ("https://d%C3%BC:zq9x@pypi.example.com/simple", "a netrc file cannot carry"),
])
def test_credentials_a_netrc_cannot_carry_are_refused_by_validate_without_showing_them(
        tmp_path, url, why):
    from inventory import InventoryError

    text = (ROOT / "inventory" / "hosts.yml").read_text().replace(
        "../sandbox/demoapp", str(ROOT / "sandbox" / "demoapp")).replace(
        "      wheelhouse: C:\\wheels", f"      index_url: {url}")
    (tmp_path / "hosts.yml").write_text(text)
    with pytest.raises(InventoryError) as info:
        load_inventory(tmp_path / "hosts.yml")
    (problem,) = [p for p in info.value.problems if "index_url" in str(p)]
    assert why in str(problem) and "USER:TOKEN@" in str(problem)
    assert "zq9" not in redact(str(problem))
