"""Fault injection switches for one endpoint, for the reliability tests.

Set in process (``server.faults.update(...)``) or, for a sandbox running as a daemon, by writing
``faults.json`` in its state folder (``invoke sandbox.fault``); the endpoint rereads the file when
it changes.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class FaultSettings:
    latency_ms: int = 0  #: added before every answer
    drop_after: int = -1  #: close the TCP connection instead of answering after N more requests
    http_500: int = 0  #: answer the next N requests with HTTP 500 (a WSMan fault)
    hang: str = ""  #: a command line containing this text never finishes until signalled
    #: one-shot: the next command line containing this text runs to its end, then the connection
    #: drops instead of the answer that carries its output (a change applied but never confirmed)
    drop_on: str = ""
    #: the next N non-empty WinRS Send chunks reach the program's stdin with their middle byte
    #: flipped (XOR 0xFF), as data damaged on the way would arrive
    corrupt_send: int = 0
    #: {operation: N}: the next N requests of that operation (create, command, receive, send,
    #: signal, delete) are answered with Windows' operation-timeout fault (w:TimedOut,
    #: 2150858793) instead of being carried out, as a slow or newly started host answers
    timeout_on: dict[str, int] = field(default_factory=dict)

#: The operations ``timeout_on`` can name.
OPERATIONS = ("create", "command", "receive", "send", "signal", "delete")


def timeout_counts(value: Any) -> dict[str, int]:
    """``timeout_on`` from a dict or from ``"create=1,command=2"`` (``invoke sandbox.fault``)."""
    if isinstance(value, str):
        pairs = [item.partition("=") for item in value.split(",") if item.strip()]
        value = {name.strip(): count.strip() or "1" for name, _, count in pairs}
    counts = {str(k).lower(): int(v) for k, v in dict(value).items()}
    unknown = sorted(set(counts) - set(OPERATIONS))
    if unknown:
        raise ValueError(f"timeout_on: unknown operation(s) {unknown}; known: {OPERATIONS}")
    return {k: v for k, v in counts.items() if v > 0}


class Faults:
    """Thread-safe switches; ``take_*`` consume one-shot faults."""

    FIELDS = tuple(FaultSettings.__dataclass_fields__)

    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._path = path
        self._mtime = 0.0
        self.settings = FaultSettings()

    def in_process_only(self) -> None:
        """From now on the switches live in this process only: no ``faults.json`` read or
        written (a simulated fleet's hosts, set through ``set_faults``)."""
        with self._lock:
            self._path = None

    def update(self, **values: Any) -> None:
        unknown = set(values) - set(self.FIELDS)
        if unknown:
            raise ValueError(f"unknown fault switch(es) {sorted(unknown)}; known: {self.FIELDS}")
        with self._lock:
            self._reload()
            for key, value in values.items():
                if key == "timeout_on":
                    value = timeout_counts(value)
                setattr(self.settings, key, type(getattr(FaultSettings(), key))(value))
            if self._path is not None:
                self._path.write_text(json.dumps(asdict(self.settings)))
                self._mtime = self._path.stat().st_mtime

    def current(self) -> FaultSettings:
        """The settings as last written to the file (or in process)."""
        with self._lock:
            self._reload()
            return self.settings

    def clear(self) -> None:
        self.update(**asdict(FaultSettings()))

    def _reload(self) -> None:
        if self._path is None or not self._path.exists():
            return
        mtime = self._path.stat().st_mtime
        if mtime != self._mtime:
            self._mtime = mtime
            data = json.loads(self._path.read_text() or "{}")
            self.settings = FaultSettings(**{k: v for k, v in data.items() if k in self.FIELDS})

    def on_request(self) -> tuple[float, bool, bool]:
        """(latency seconds, drop the connection, answer 500) for the request just read."""
        with self._lock:
            self._reload()
            s = self.settings
            drop = s.drop_after == 0
            if s.drop_after > 0:
                s.drop_after -= 1
            elif drop:
                s.drop_after = -1
            fail = s.http_500 > 0
            if fail:
                s.http_500 -= 1
            return s.latency_ms / 1000.0, drop, fail

    def take_drop_on(self, command_line: str) -> bool:
        """True once for the first command line that contains ``drop_on``."""
        with self._lock:
            self._reload()
            if self.settings.drop_on and self.settings.drop_on in command_line:
                self.settings.drop_on = ""
                return True
            return False

    def corrupt(self, data: bytes) -> bytes | None:
        """``data`` damaged (middle byte XOR 0xFF) while ``corrupt_send`` counts down, else None;
        an empty chunk is never damaged and counts nothing."""
        with self._lock:
            self._reload()
            if not data or self.settings.corrupt_send <= 0:
                return None
            self.settings.corrupt_send -= 1
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]

    def take_timeout(self, operation: str) -> bool:
        """True (and one fewer left) when ``operation`` is to be answered with a timeout."""
        with self._lock:
            self._reload()
            left = self.settings.timeout_on.get(operation, 0)
            if left <= 0:
                return False
            if left > 1:
                self.settings.timeout_on[operation] = left - 1
            else:
                del self.settings.timeout_on[operation]
            if self._path is not None:  # a daemon's count survives the next reread
                self._path.write_text(json.dumps(asdict(self.settings)))
                self._mtime = self._path.stat().st_mtime
            return True

    def hangs(self, command_line: str) -> bool:
        with self._lock:
            self._reload()
            return bool(self.settings.hang) and self.settings.hang in command_line
