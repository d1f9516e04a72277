"""One Wine prefix: the sandbox host's C: drive and registry, with its own persistent wineserver."""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import IO

from sandbox.netns import path_of


class WineMissing(RuntimeError):
    """Wine is not installed on this machine."""


def require_wine() -> str:
    wine = shutil.which("wine")
    if wine is None or shutil.which("wineserver") is None:
        raise WineMissing("Wine is not installed: run `bash bootstrap.sh demo` (or `sudo apt-get "
                          "install wine wine64`) to set up the sandbox host")
    return wine


#: Programs whose System32 file is the sandbox's stand-in, run natively instead of Wine's builtin.
NATIVE_PROGRAMS = ("sc.exe", "icacls.exe", "secedit.exe", "certutil.exe",
                   "findstr.exe")
OVERRIDES = "mscoree,mshtml=;" + ",".join(NATIVE_PROGRAMS) + "=n"


def locale_available(locale: str) -> bool:
    """Is ``<locale>.UTF-8`` generated on this machine (``locale -a``)?"""
    try:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return False
    wanted = {f"{locale}.utf8".lower(), f"{locale}.utf-8".lower()}
    return any(line.strip().lower() in wanted for line in out.splitlines())


class WinePrefix:
    """A prefix folder and the environment every Wine process of this host gets.

    The environment is built from scratch, not inherited: Wine copies Linux variables into the
    Windows environment, and the sandbox host must not see the caller's.
    """

    def __init__(self, path: Path, locale: str | None = None, *,
                 netns: str | None = None) -> None:
        self.path = Path(path)
        self.user = getpass.getuser()
        #: The host's language as a Linux locale (``de_DE``); Wine's programs speak it.
        self.locale = locale
        #: An offline host's network namespace (``sandbox.netns``): every Wine process of the
        #: host starts in it, so it reaches nothing but its own loopback.
        self.netns = netns

    def argv(self, *program: str) -> list[str]:
        """The command line that starts ``program`` (wine, wineserver) for this host: in its
        network namespace when it has one. ``nsenter --net`` changes only the network, not the
        mount namespace as ``ip netns exec`` does, so a full-disk tmpfs (``sandbox.disk``)
        mounted later is seen by the host's programs."""
        enter = ("nsenter", f"--net={path_of(self.netns)}", "--") if self.netns else ()
        return [*enter, *program]

    @property
    def drive_c(self) -> Path:
        return self.path / "drive_c"

    @property
    def profile(self) -> Path:
        return self.drive_c / "users" / self.user

    def host_path(self, windows_path: str) -> Path:
        """``C:\\Python311\\python.exe`` → its file on Linux."""
        drive, _, rest = windows_path.partition(":")
        if drive.upper() != "C":
            raise ValueError(f"only C: is mapped in the sandbox: {windows_path}")
        return self.drive_c.joinpath(*[p for p in rest.replace("/", "\\").split("\\") if p])

    def env(self) -> dict[str, str]:
        return {
            "WINEPREFIX": str(self.path),
            "WINEDEBUG": "-all",
            # No Mono/Gecko installer prompts; the stand-ins copied over System32's sc.exe and
            # icacls.exe run instead of Wine's builtins (measured: without "=n", Wine runs its
            # builtin even when the file in system32 is another program).
            "WINEDLLOVERRIDES": OVERRIDES,
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": os.environ.get("HOME", "/root"),
            "USER": self.user,
            "LANG": self.unix_locale,
            "LC_ALL": self.unix_locale,
        }

    @property
    def unix_locale(self) -> str:
        return f"{self.locale}.UTF-8" if self.locale else "C.UTF-8"

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[bytes]:
        """Run a Windows program for set-up; stdin from /dev/null, output through pipes.

        Waits for the program, not for end-of-file: a Wine system process started on the way
        may inherit the pipes and hold them open for the life of the prefix.
        """
        proc = subprocess.Popen(self.argv("wine", *args), env=self.env(),
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.path)
        chunks: dict[str, list[bytes]] = {"out": [], "err": []}

        def pump(stream: IO[bytes], into: list[bytes]) -> None:
            for block in iter(lambda: os.read(stream.fileno(), 65536), b""):
                into.append(block)

        readers = [threading.Thread(target=pump, args=(s, chunks[k]), daemon=True)
                   for s, k in ((proc.stdout, "out"), (proc.stderr, "err"))]
        for reader in readers:
            reader.start()
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        for reader in readers:
            reader.join(1.0)
        return subprocess.CompletedProcess(["wine", *args], rc, b"".join(chunks["out"]),
                                           b"".join(chunks["err"]))

    def start_server(self) -> None:
        """A persistent wineserver for the host's whole life, then the system processes.

        The services are started here with /dev/null handles, so they never hold a pipe of a
        later command open.
        """
        require_wine()
        subprocess.run(self.argv("wineserver", "-p"), env=self.env(), check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        subprocess.run(self.argv("wine", "cmd.exe", "/c", "exit"), env=self.env(), timeout=120,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, cwd=self.path, check=False)

    def stop_server(self) -> None:
        """Stop every Wine process of this prefix (``wineserver -k``)."""
        if shutil.which("wineserver"):
            subprocess.run(["wineserver", "-k"], env=self.env(), timeout=60, check=False,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            subprocess.run(["wineserver", "-w"], env=self.env(), timeout=60, check=False,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
