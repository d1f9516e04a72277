"""The health gate of a release, run on the host by its base Python (``-I -c``): no tacfleet.

argv: ``SC_EXE SERVICE PORT PATH TIMEOUT_S SETTLE_S LOG…``. PATH is ``-`` for "the port
answers" alone, else an HTTP path that must return 2xx/3xx. LOG: the service's stderr and
stdout logs (``-`` for none), whose last lines go with a failure.

1. Up to TIMEOUT_S: wait until the service is RUNNING and the app answers.
2. For SETTLE_S after that: the app must go on answering (polled every 0.25 s; two misses in a
   row fail: NSSM restarting an app that exited leaves the port closed for longer than that)
   and the service must stay RUNNING.

Service states are read from ``sc query``'s ``STATE : <n> <NAME>`` (untranslated in every
language). Prints one line ``TACFLEET-GATE <json>``: ``ok``, ``why``, ``answered_after``,
``log`` (last lines).
"""

import http.client
import json
import re
import socket
import subprocess
import sys
import time

MARK = "TACFLEET-GATE "
STATE = re.compile(rb":\s*[1-7]\s+(STOPPED|START_PENDING|STOP_PENDING|RUNNING|CONTINUE_PENDING"
                   rb"|PAUSE_PENDING|PAUSED)\b")
POLL = 0.25
AGENT = "tacfleet-health-gate"


def state(sc, service):
    out = subprocess.run([sc, "query", service], capture_output=True).stdout
    found = STATE.search(out)
    return found.group(1).decode() if found else "UNKNOWN"


def answer(port, path):
    """"" when the app answers (the port, or PATH with 2xx/3xx), else what it did."""
    try:
        if path == "-":
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return ""
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        try:
            conn.request("GET", path, headers={"User-Agent": AGENT})
            status = conn.getresponse().status
        finally:
            conn.close()
    except (OSError, http.client.HTTPException) as exc:
        return "port %d: %s" % (port, exc.__class__.__name__ if not str(exc) else exc)
    return "" if 200 <= status < 400 else "GET %s answered %d" % (path, status)


def tail(log, lines=10):
    if log == "-":
        return []
    try:
        with open(log, "rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - 8192))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    # the gate's own requests in the app's access log say nothing about the app
    return [line for line in text.splitlines()
            if line.strip() and AGENT not in line][-lines:]


def gate(sc, service, port, path, timeout_s, settle_s):
    started = time.time()
    why = "no answer"
    while True:
        now = state(sc, service)
        if now == "RUNNING":
            why = answer(port, path)
            if not why:
                break
        else:
            why = "the service is %s" % now
        if time.time() - started > timeout_s:
            return False, "not answering %.0f s after the start: %s" % (timeout_s, why), None
        time.sleep(POLL)
    answered = time.time() - started
    end = time.time() + settle_s
    misses = 0
    while time.time() < end:
        time.sleep(POLL)
        why = answer(port, path)
        misses = misses + 1 if why else 0
        if misses >= 2:
            return False, "stopped answering %.1f s after it first answered: %s" % (
                time.time() - started - answered, why), answered
    now = state(sc, service)
    if now != "RUNNING":
        return False, "the service is %s after %.0f s of settling" % (now, settle_s), answered
    return True, "", answered


def main(argv):
    sc, service, port, path, timeout_s, settle_s = argv[:6]
    ok, why, answered = gate(sc, service, int(port), path, float(timeout_s), float(settle_s))
    log = [] if ok else [line for path in argv[6:] for line in tail(path)]
    doc = {"ok": ok, "why": why, "answered_after": answered, "log": log}
    sys.stdout.write(MARK + json.dumps(doc) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
