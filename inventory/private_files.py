r"""Controller files only their owner may read: password files, run logs, drift reports/history.

On POSIX that is mode 0600: group and others have no bit. On Windows the mode bits mean nothing
(``os.chmod`` sets the read-only flag only), so the rule is the one OpenSSH for Windows applies
to a private key: the file's DACL allows access to the current user, SYSTEM and Administrators
only. tacfleet gives the files it writes a protected DACL of those three
(:data:`PRIVATE_SDDL`), set before anything is written into them, and refuses a password file
whose DACL lets anyone else read or write it. The DACL is read as SDDL (``icacls PATH /save``)
and set by SID with ``%SystemRoot%\\System32\\icacls.exe``, as the host probe reads folders:
alike in every language, and the tool the sandbox models (Wine's ``SetNamedSecurityInfoW``
keeps nothing). The user's SID comes from the process token (advapi32 via ctypes: three calls,
where pywin32 would add a 10 MB dependency to the controller). ``winhost.sddl`` judges it.
"""

from __future__ import annotations

import functools
import os
import stat
import sys
from pathlib import Path

import winhost.sddl as sddl
from winhost.cmdline import local_system32

#: SYSTEM and BUILTIN\Administrators: they may read every file anyway (backup privileges).
TRUSTED = frozenset({"S-1-5-18", "S-1-5-32-544"})
#: A protected DACL: full control for the user, SYSTEM and Administrators, nothing inherited.
PRIVATE_SDDL = "D:P(A;;FA;;;{user})(A;;FA;;;SY)(A;;FA;;;BA)"
_READ_OR_WRITE = sddl.FILE_READ_DATA | sddl.WRITE_MASK


def fix_hint(path: Path) -> str:
    """The command that makes ``path`` private, for the platform tacfleet runs on."""
    if sys.platform == "win32":
        return f'icacls "{path}" /inheritance:r /grant:r *{_windows.user_sid()}:F'
    return f"chmod 600 {path}"


def exposure(path: Path) -> str | None:
    """Why ``path`` is not private (who else may read or write it), or None when it is."""
    if sys.platform == "win32":
        return _windows_exposure(str(path.resolve()))
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return f"it is readable or writable by group/others (mode {mode:04o})"
    return None


def sddl_exposure(text: str, user_sid: str) -> str | None:
    """Why a file with security descriptor ``text`` is not private to ``user_sid``, or None."""
    descriptor = sddl.parse(text)
    if descriptor.null_dacl or descriptor.dacl is None:
        return "it has no DACL (everyone has full access)"
    others = sorted({sddl.sid_name(ace.sid) for ace in descriptor.dacl
                     if ace.kind == "allow" and ace.applies_here
                     and sddl.file_mask(ace.mask) & _READ_OR_WRITE
                     and ace.sid not in TRUSTED | {user_sid.upper()}})
    if others:
        return f"its ACL lets {', '.join(others)} read or write it"
    return None


def current_user_sid() -> str:
    """The SID of the Windows user tacfleet runs as (Windows only)."""
    if sys.platform == "win32":
        return _windows.user_sid()
    raise OSError("a Windows user SID exists on Windows only")


def make_private(path: Path) -> None:
    """Give the existing file ``path`` its owner-only access (POSIX 0600, Windows' DACL)."""
    if sys.platform == "win32":
        _windows.set_private(path)
    else:
        os.chmod(path, 0o600)


def private_folder(path: Path) -> None:
    """Create ``path`` if missing; on Windows give it the owner-only DACL, inherited by every
    file and folder made in it (one ``icacls`` per run, not one per file). POSIX files made
    with ``mkstemp``/:func:`open_private` are 0600 already, so there the folder stays as is."""
    path.mkdir(parents=True, exist_ok=True)
    if sys.platform == "win32":
        _windows.set_private(path, inherit="(OI)(CI)")


def open_private(path: Path, flags: int) -> int:
    """``os.open(path, flags | O_CREAT)`` of a file only its owner may read, made so before the
    caller writes anything into it."""
    fd = os.open(path, flags | os.O_CREAT, 0o600)
    try:
        make_private(path)
    except BaseException:
        os.close(fd)
        raise
    return fd


if sys.platform == "win32":  # pragma: no cover - the Windows controller test runs it (Wine)
    import ctypes
    import subprocess
    import tempfile
    from ctypes import wintypes

    class _Windows:
        """The user's SID from the process token (advapi32), a file's DACL read and set with
        ``%SystemRoot%\\System32\\icacls.exe`` by SID, as the host probe reads folders."""

        def __init__(self) -> None:
            self._sid: str | None = None
            self.icacls = local_system32("icacls.exe")

        def user_sid(self) -> str:
            """The SID of the user this process runs as (its token's TokenUser)."""
            if self._sid is None:
                advapi = ctypes.WinDLL("advapi32", use_last_error=True)
                kernel = ctypes.WinDLL("kernel32", use_last_error=True)
                kernel.GetCurrentProcess.restype = wintypes.HANDLE
                kernel.LocalFree.argtypes = [ctypes.c_void_p]
                advapi.OpenProcessToken.argtypes = [wintypes.HANDLE, wintypes.DWORD,
                                                    ctypes.POINTER(wintypes.HANDLE)]
                advapi.GetTokenInformation.argtypes = [
                    wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p, wintypes.DWORD,
                    ctypes.POINTER(wintypes.DWORD)]
                advapi.ConvertSidToStringSidW.argtypes = [ctypes.c_void_p,
                                                          ctypes.POINTER(wintypes.LPWSTR)]
                token = wintypes.HANDLE()
                if not advapi.OpenProcessToken(kernel.GetCurrentProcess(), 0x8,  # TOKEN_QUERY
                                               ctypes.byref(token)):
                    raise ctypes.WinError(ctypes.get_last_error(), "OpenProcessToken")
                size = wintypes.DWORD()
                advapi.GetTokenInformation(token, 1, None, 0, ctypes.byref(size))  # TokenUser
                buffer = ctypes.create_string_buffer(size.value)
                ok = advapi.GetTokenInformation(token, 1, buffer, size, ctypes.byref(size))
                kernel.CloseHandle(token)
                if not ok:
                    raise ctypes.WinError(ctypes.get_last_error(), "GetTokenInformation")
                text = wintypes.LPWSTR()
                psid = ctypes.cast(buffer, ctypes.POINTER(ctypes.c_void_p))[0]
                if not advapi.ConvertSidToStringSidW(psid, ctypes.byref(text)):
                    raise ctypes.WinError(ctypes.get_last_error(), "ConvertSidToStringSidW")
                self._sid = str(text.value).upper()
                kernel.LocalFree(text)
            return self._sid

        def _icacls(self, *args: str) -> None:
            done = subprocess.run([self.icacls, *args], capture_output=True, timeout=60)
            if done.returncode:
                message = (done.stderr or done.stdout).decode("oem", errors="replace")
                raise OSError(done.returncode, f"icacls exit code {done.returncode}: "
                              f"{message.strip()[-200:]}", args[0])

        def file_sddl(self, path: Path) -> str:
            """The DACL of ``path`` in SDDL: ``icacls PATH /save FILE`` (UTF-16LE: its name,
            then the SDDL line), language-independent where icacls' display is not."""
            with tempfile.TemporaryDirectory(prefix="tacfleet-acl-") as folder:
                saved = Path(folder) / "acl.txt"
                self._icacls(str(path), "/save", str(saved))
                text = saved.read_bytes().decode("utf-16-le").lstrip("\ufeff")
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            return next((line for line in lines[1:] if line[:2] in ("D:", "O:")), "")

        def set_private(self, path: Path, inherit: str = "") -> None:
            """Inheritance removed; full control for the user, SYSTEM and Administrators
            (``inherit``: ``(OI)(CI)`` for a folder whose contents get the same)."""
            self._icacls(str(path), "/inheritance:r", "/grant:r",
                         *(f"*{sid}:{inherit}F" for sid in (self.user_sid(), *sorted(TRUSTED))))

    _windows = _Windows()

    @functools.lru_cache(maxsize=256)
    def _windows_exposure(path: str) -> str | None:
        """Read once per process: a fleet's hosts often share one password file."""
        return sddl_exposure(_windows.file_sddl(Path(path)), _windows.user_sid())
