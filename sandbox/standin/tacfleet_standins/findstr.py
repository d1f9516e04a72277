r"""``findstr`` for the sandbox host: literal searches of standard input.

Wine 8's ``findstr.exe`` prints nothing for any search (measured). tacfleet uses one form of it
(Microsoft Learn, "findstr"): ``findstr /l /v STRING`` reading standard input, which prints every
line that does not contain STRING, as it came (a last line without a line break gets CR LF), and
exits 0 when it printed a line, 1 when none; ``/i`` ignores case. That is how a host with nothing
else writes data it is sent (WinRS standard input) into a file: ``cmd.exe /c findstr /l /v _ >
FILE`` (base64 text holds no ``_``). Other switches, files and regular expressions are refused
(exit 2, as findstr does for a bad switch) rather than guessed.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None, stdin=None, stdout=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    stdin = stdin if stdin is not None else sys.stdin.buffer
    stdout = stdout if stdout is not None else sys.stdout.buffer
    switches = {a.lower() for a in args if a.startswith("/")}
    words = [a for a in args if not a.startswith("/")]
    if not switches <= {"/l", "/v", "/i"} or "/l" not in switches or len(words) != 1:
        sys.stderr.write("sandbox: the findstr stand-in serves only /l [/v] [/i] STRING, "
                         "reading standard input\r\n")
        return 2
    word = words[0].encode("mbcs" if sys.platform == "win32" else "utf-8")
    invert, fold = "/v" in switches, "/i" in switches
    if fold:
        word = word.lower()
    printed = False
    for line in iter(stdin.readline, b""):
        found = word in (line.lower() if fold else line)
        if found != invert:
            stdout.write(line if line.endswith(b"\n") else line + b"\r\n")
            printed = True
    stdout.flush()
    return 0 if printed else 1


if __name__ == "__main__":
    sys.exit(main())
