r"""A stand-in for ``bcryptprimitives.dll``, which Wine 8 lacks: a PE32+ DLL with no code whose
exports forward to functions Wine has.

Windows' rule: ``C:\Windows\System32\bcryptprimitives.dll`` exports ``ProcessPrng(pbData,
cbData)``, which fills the buffer from the system's random number generator and always returns
TRUE (learn.microsoft.com: "ProcessPrng function"). Every binary built with Rust 1.78 or later
imports it (Rust's standard library seeds its hash maps with it): pydantic-core and cryptography,
which tacfleet needs, fail to load with "DLL load failed … Module not found" without it. Wine
added the DLL in 9.0; the sandbox runs Debian's Wine 8.0, so the image holds this file, built
here: ``ProcessPrng`` forwarded to ``advapi32.SystemFunction036`` (RtlGenRandom: same buffer and
length arguments, the system RNG, TRUE on success). A forwarder is what Windows' own API-set DLLs
are made of, so Wine's loader resolves it as Windows would; nothing else changes.

A hand-built file, not a compiled one, because a C cross-compiler (mingw-w64, ~500 MB installed)
would be the only thing the sandbox needs one for.
"""

from __future__ import annotations

import struct

#: What the stand-in exports: name -> ``module.Function`` it forwards to.
BCRYPTPRIMITIVES = {"ProcessPrng": "advapi32.SystemFunction036"}

_SECTION_RVA, _FILE_ALIGN, _SECTION_ALIGN = 0x1000, 0x200, 0x1000


def _align(n: int, to: int) -> int:
    return (n + to - 1) // to * to


def _export_section(dll_name: str, exports: dict[str, str]) -> bytes:
    """IMAGE_EXPORT_DIRECTORY, its three tables and their strings; each function's RVA points at
    its forwarder string inside the directory, which is what marks it a forwarder."""
    names = sorted(exports)  # the name table must be sorted for the loader's binary search
    count = len(names)
    functions = 40
    name_table = functions + 4 * count
    ordinals = name_table + 4 * count
    strings = bytearray()

    def string(text: str) -> int:
        rva = _SECTION_RVA + ordinals + 2 * count + len(strings)
        strings.extend(text.encode("ascii") + b"\0")
        return rva

    dll = string(dll_name)
    name_rvas = [string(n) for n in names]
    target_rvas = [string(exports[n]) for n in names]
    return b"".join([
        struct.pack("<IIHHIIIIIII", 0, 0, 0, 0, dll, 1, count, count,
                    _SECTION_RVA + functions, _SECTION_RVA + name_table,
                    _SECTION_RVA + ordinals),
        *(struct.pack("<I", r) for r in target_rvas),
        *(struct.pack("<I", r) for r in name_rvas),
        *(struct.pack("<H", i) for i in range(count)),
        bytes(strings),
    ])


def forwarder_dll(dll_name: str, exports: dict[str, str]) -> bytes:
    """The bytes of an x64 DLL named ``dll_name`` whose exports all forward (no code, no entry
    point, one read-only ``.edata`` section)."""
    section = _export_section(dll_name, exports)
    raw = _align(len(section), _FILE_ALIGN)
    image_size = _SECTION_RVA + _align(len(section), _SECTION_ALIGN)
    dos = b"MZ" + bytes(58) + struct.pack("<I", 0x40)  # e_lfanew: the PE header follows
    # Machine AMD64, one section, optional header 240 bytes, EXECUTABLE_IMAGE|LARGE_ADDRESS|DLL.
    coff = struct.pack("<HHIIIHH", 0x8664, 1, 0, 0, 0, 240, 0x2022)
    optional = struct.pack("<HBBIIIII", 0x20B, 14, 0, 0, raw, 0, 0, _SECTION_RVA)
    optional += struct.pack(
        "<QIIHHHHHHIIIIHHQQQQII", 0x180000000, _SECTION_ALIGN, _FILE_ALIGN, 6, 0, 0, 0, 6, 0, 0,
        image_size, _FILE_ALIGN, 0, 3, 0x0100, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    optional += struct.pack("<II", _SECTION_RVA, len(section)) + bytes(8 * 15)  # export dir
    header = struct.pack("<8sIIIIIIHHI", b".edata", len(section), _SECTION_RVA, raw,
                         _FILE_ALIGN, 0, 0, 0, 0, 0x40000040)  # INITIALIZED_DATA | MEM_READ
    head = dos + b"PE\0\0" + coff + optional + header
    return head.ljust(_FILE_ALIGN, b"\0") + section.ljust(raw, b"\0")
