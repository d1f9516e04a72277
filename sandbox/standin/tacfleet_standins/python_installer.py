r"""A stand-in for python.org's Windows installer (``python-3.x.y-amd64.exe``) on the sandbox host.

Windows: the installer is a WiX bundle; ``/quiet`` installs with no UI, ``InstallAllUsers=1``
for all users, ``TargetDir=DIR`` into DIR, ``PrependPath=0`` leaves PATH alone (1 prepends the
install and its Scripts folder), ``Include_test=0`` skips the test suite; it exits 0, or an MSI
error code (1639: invalid command line).

This stand-in (stdlib only, run by ``C:\Python311\python.exe`` through pip's console-script
launcher, a real PE program: ``sandbox.control.python_installer_standin`` builds it on the
controller) accepts exactly those options and copies the installation of the Python that runs
it (``sys.base_prefix``, the image's ``C:\Python311``) into TargetDir, as
``sandbox.control.install_python`` does from the outside. TargetDir may exist (python.org's
installer accepts an existing folder, and tacfleet makes and protects it first): the folder is
kept, and with it its entries in the icacls stand-in's store, which this never touches, so what
is copied in inherits them, as files the real installer writes inherit the folder's DACL. It
never changes PATH. Anything else:
exit 1639, as the bundle does for an option it does not know.
"""

from __future__ import annotations

import os
import shutil
import sys

ERROR_INVALID_COMMAND_LINE = 1639
FLAGS = {"/quiet", "/passive"}
PROPERTIES = {"InstallAllUsers": {"0", "1"}, "PrependPath": {"0", "1"},
              "Include_test": {"0", "1"}, "TargetDir": None}


def parse(argv: list[str]) -> dict[str, str] | None:
    """The properties given, or None when an argument is not one the installer knows."""
    props: dict[str, str] = {}
    for arg in argv:
        if arg.lower() in FLAGS:
            continue
        name, sep, value = arg.partition("=")
        allowed = PROPERTIES.get(name, set())
        if not sep or name not in PROPERTIES or (allowed is not None and value not in allowed):
            return None
        props[name] = value
    return props


def main(argv: list[str] | None = None) -> int:
    props = parse(sys.argv[1:] if argv is None else argv)
    if props is None or not props.get("TargetDir"):
        sys.stderr.write("python installer (sandbox stand-in): usage: /quiet InstallAllUsers=1 "
                         "TargetDir=DIR [PrependPath=0] [Include_test=0]\n")
        return ERROR_INVALID_COMMAND_LINE
    target = props["TargetDir"].rstrip("\\")
    shutil.copytree(sys.base_prefix, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    if not os.path.isfile(os.path.join(target, "python.exe")):
        return 1603  # ERROR_INSTALL_FAILURE
    return 0


if __name__ == "__main__":
    sys.exit(main())
