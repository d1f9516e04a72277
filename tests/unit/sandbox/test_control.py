"""`sandbox.down` with a name that was never used: refused when asked, and no folder made."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import control


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TACFLEET_SANDBOX_HOME", str(tmp_path))
    (tmp_path / "image").mkdir()  # the bare image's folder is not a sandbox
    (tmp_path / "default").mkdir()
    (tmp_path / "default" / "password").write_text("x\n")
    return tmp_path


def test_unknown_name_is_refused_naming_the_sandboxes_and_creates_nothing(home: Path) -> None:
    with pytest.raises(control.SandboxUnavailable) as info:
        control.down("ecoo1", must_exist=True)
    assert str(info.value) == ("there is no sandbox named 'ecoo1' on this machine (sandboxes "
                               "here: default): check the name")
    assert not (home / "ecoo1").exists()


def test_unknown_name_without_must_exist_is_a_quiet_no_op(home: Path) -> None:
    """What the tests' and benches' "stop it if it runs" calls rely on."""
    assert control.down("ecoo1") is False
    assert not (home / "ecoo1").exists()


def test_a_stopped_sandbox_is_stopped_again_without_error(home: Path) -> None:
    assert control.down("default", must_exist=True) is True


def test_bad_name_is_refused_before_any_folder(home: Path) -> None:
    with pytest.raises(ValueError, match="use letters, digits"):
        control.down("../escape", must_exist=True)
    assert sorted(p.name for p in home.iterdir()) == ["default", "image"]
