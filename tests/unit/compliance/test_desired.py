"""The desired state, computed once: the values NSSM must hold, as NSSM documents them."""

from __future__ import annotations

import pytest

from compliance import desired
from compliance.requirements import REQUIREMENTS
from inventory import Host, load_inventory
from tests.support import ROOT

#: The registry values NSSM 2.24 reads (nssm.cc/usage, "Parameters"; README.txt "File
#: rotation"), and the service's own values ``nssm set`` writes.
NSSM_DOCUMENTED = {
    "Application", "AppParameters", "AppDirectory", "AppExit", "AppAffinity", "AppEnvironment",
    "AppEnvironmentExtra", "AppNoConsole", "AppPriority", "AppRestartDelay", "AppStdin",
    "AppStdout", "AppStderr", "AppStdoutCreationDisposition", "AppStderrCreationDisposition",
    "AppRotateFiles", "AppRotateOnline", "AppRotateSeconds", "AppRotateBytes",
    "AppRotateBytesHigh", "AppStopMethodSkip", "AppStopMethodConsole", "AppStopMethodWindow",
    "AppStopMethodThreads", "AppThrottle", "AppKillProcessTree", "DisplayName", "Description",
}


@pytest.fixture(scope="module")
def host() -> Host:
    return load_inventory(ROOT / "inventory" / "hosts.yml").host("sandbox")


def with_service(host: Host, **changes: object) -> Host:
    return host.model_copy(update={"service": host.service.model_copy(update=changes)})


def test_the_sandbox_host_wants_these_nssm_values(host: Host) -> None:
    assert desired.nssm_settings(host) == {
        "service_application": {
            "Application": "C:\\PythonEnvs\\tacdemo\\Scripts\\python.exe",
            "AppParameters": "C:\\PythonEnvs\\tacdemo\\Scripts\\twistd.exe --nodaemon --python "
                             "my_tacfile.tac"},
        "app_directory": {"AppDirectory": "C:\\Apps\\tacdemo"},
        "logs_rotated": {"AppStdout": "C:\\ProgramData\\tacdemo\\logs\\tacdemo.out.log",
                         "AppStderr": "C:\\ProgramData\\tacdemo\\logs\\tacdemo.err.log",
                         "AppRotateFiles": 1, "AppRotateOnline": 1,
                         "AppRotateBytes": 10 * 1024 * 1024},
        "restart_policy": {"AppExit": "Restart", "AppThrottle": 1500, "AppRestartDelay": 5000},
        "display_name": {"DisplayName": "Tacdemo Twisted service"},
        "description": {"Description": "Runs the tacdemo Twisted application (my_tacfile.tac) "
                                       "with twistd under NSSM."},
    }


def test_every_name_is_one_nssm_documents_and_every_group_a_requirement(host: Host) -> None:
    settings = desired.nssm_settings(host)
    names = [name for group in settings.values() for name in group]
    assert set(names) <= NSSM_DOCUMENTED and len(names) == len(set(names))
    assert set(settings) <= set(REQUIREMENTS)


def test_without_rotation_its_size_and_online_rotation_are_not_wanted(host: Host) -> None:
    """NSSM: "If AppRotateFiles is missing or set to 0, rotation is disabled": AppRotateBytes
    and AppRotateOnline then do nothing, so they are neither set nor judged."""
    logs = desired.nssm_settings(with_service(host, rotate_files=False))["logs_rotated"]
    assert logs == {"AppStdout": host.service.stdout, "AppStderr": host.service.stderr,
                    "AppRotateFiles": 0}


def test_a_tac_path_with_a_space_is_one_argument_for_twistd() -> None:
    """The default arguments and AppParameters quote with the one rule of every command line
    (``winhost.cmdline.quote_arg``)."""
    host = Host.model_validate({
        "name": "web01", "connection": {"address": "web01", "user": "u", "password_env": "P"},
        "app": {"name": "Ex", "tac_file": "C:\\Apps\\Ex\\conf\\my app.tac",
                "app_directory": "C:\\Apps\\Ex"},
        "service": {"name": "ex"}})
    assert desired.app_parameters(host) == (
        'C:\\PythonEnvs\\Ex\\Scripts\\twistd.exe --nodaemon --python "conf\\my app.tac"')
