r"""``certutil`` for the sandbox host: base64 decoding and file hashes, as Windows prints them.

Wine 8's ``certutil.exe`` is a placeholder that prints nothing and decodes nothing (measured).
Every Windows Server has certutil; tacfleet uses two of its verbs to put a file on a host that
has nothing else (Microsoft Learn, "certutil"):

- ``certutil [-f] -decode InFile OutFile``: base64 text (line breaks and ``-----BEGIN/END …-----``
  lines allowed) to binary; ``-f`` overwrites an existing OutFile, without it the verb fails with
  ERROR_FILE_EXISTS. Prints ``Input Length = N``, ``Output Length = M`` and
  ``CertUtil: -decode command completed successfully.``
- ``certutil -hashfile InFile SHA256``: ``SHA256 hash of InFile:``, the hash as 64 lowercase hex
  digits on a line of its own, ``CertUtil: -hashfile command completed successfully.``

A failure prints ``CertUtil: -<verb> command FAILED: 0x… (…)`` and the error's message, and the
exit code is the HRESULT (0x80070002 file not found, 0x80070050 file exists, 0x80090005 bad
data; 0x80070057 for a bad argument), as certutil's is. Other verbs and algorithms are refused
(exit 1) rather than guessed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import sys

#: HRESULTs certutil reports, with the text it prints after them.
NOT_FOUND = (0x80070002, "WIN32: 2 ERROR_FILE_NOT_FOUND", "The system cannot find the file "
             "specified.")
EXISTS = (0x80070050, "WIN32: 80 ERROR_FILE_EXISTS", "The file exists.")
BAD_DATA = (0x80090005, "-2146893819 NTE_BAD_DATA", "Bad Data.")
BAD_ARG = (0x80070057, "WIN32: 87 ERROR_INVALID_PARAMETER", "The parameter is incorrect.")


def _out(text: str) -> None:
    sys.stdout.write(text + "\r\n")
    sys.stdout.flush()


def _failed(verb: str, error: tuple[int, str, str]) -> int:
    code, name, message = error
    _out(f"CertUtil: -{verb} command FAILED: 0x{code:08x} ({name})")
    _out(f"CertUtil: {message}")
    return code - (1 << 32)  # the HRESULT as the (signed) exit code


def decode(infile: str, outfile: str, force: bool) -> int:
    try:
        with open(infile, "rb") as handle:
            raw = handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return _failed("decode", NOT_FOUND)
    lines = [line.strip() for line in raw.decode("ascii", "replace").splitlines()]
    text = "".join(line for line in lines if line and not line.startswith("-----"))
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return _failed("decode", BAD_DATA)
    if os.path.exists(outfile) and not force:
        return _failed("decode", EXISTS)
    with open(outfile, "wb") as handle:
        handle.write(data)
    _out(f"Input Length = {len(raw)}")
    _out(f"Output Length = {len(data)}")
    _out("CertUtil: -decode command completed successfully.")
    return 0


def hashfile(infile: str, algorithm: str) -> int:
    if algorithm.upper() != "SHA256":
        _out("sandbox: the certutil stand-in hashes with SHA256 only")
        return 1
    digest = hashlib.sha256()
    try:
        with open(infile, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except (FileNotFoundError, NotADirectoryError):
        return _failed("hashfile", NOT_FOUND)
    _out(f"SHA256 hash of {infile}:")
    _out(digest.hexdigest())
    _out("CertUtil: -hashfile command completed successfully.")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    force = False
    while args and args[0].lower() in ("-f", "/f"):
        force = True
        args.pop(0)
    verb = args[0].lower().lstrip("-/") if args else ""
    if verb == "decode":
        if len(args) != 3:
            return _failed("decode", BAD_ARG)
        return decode(args[1], args[2], force)
    if verb == "hashfile":
        if len(args) not in (2, 3):
            return _failed("hashfile", BAD_ARG)
        return hashfile(args[1], args[2] if len(args) == 3 else "SHA1")
    _out("sandbox: the certutil stand-in serves only [-f] -decode InFile OutFile and "
         "-hashfile InFile SHA256")
    return 1


if __name__ == "__main__":
    sys.exit(main())
