"""An offline sandbox host's network: a namespace of its own with only its loopback up.

Windows' rule for an air-gapped server: every connection to anything but what the network allows
fails. Wine has no firewall, so the sandbox gives every Wine process of an offline host
(``sandbox.up --offline``: wineserver, services.exe and the services NSSM starts, the command
agent and all it runs) a Linux network namespace, ``tacfleet-<host>``, made with ``ip netns
add`` and entered with ``nsenter --net`` (the mount namespace stays the controller's). Its
loopback is up, so the host's own programs reach one another on 127.0.0.1 (the probe checks the
app's port from inside), and there is nothing else: no route, no other interface. The WinRM
endpoint stays in the controller's namespace on 127.0.0.1 and talks to the agent over pipes, so
the product reaches the host as always.
"""

from __future__ import annotations

import shutil
import subprocess


class NetnsUnavailable(RuntimeError):
    """The namespace cannot be made here (not root, no ``ip``)."""


def name_for(host: str) -> str:
    """``tacfleet-<host>``: Linux allows names of up to 255 characters in /run/netns."""
    return f"tacfleet-{host}"


def path_of(name: str) -> str:
    """The namespace's handle that ``nsenter --net=`` enters (``ip netns add`` makes it)."""
    return f"/run/netns/{name}"


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)


def create(host: str) -> str:
    """A fresh namespace for ``host`` (an old one of the same name, left by a crash, goes)."""
    if shutil.which("ip") is None:
        raise NetnsUnavailable("an offline sandbox host needs `ip` (Debian package iproute2)")
    name = name_for(host)
    _ip("netns", "delete", name)
    for args in (("netns", "add", name), ("-n", name, "link", "set", "lo", "up")):
        done = _ip(*args)
        if done.returncode != 0:
            _ip("netns", "delete", name)
            raise NetnsUnavailable(f"`ip {' '.join(args)}` failed: {done.stderr.strip()} (an "
                                   "offline sandbox host needs root to make its network)")
    return name


def delete(host: str) -> None:
    """Remove the host's namespace if there is one."""
    if shutil.which("ip") is not None:
        _ip("netns", "delete", name_for(host))
