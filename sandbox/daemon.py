"""One running sandbox host: its wineserver, command agent and WinRM endpoint, in one process.

Started detached by ``sandbox.control.up``; stopped with SIGTERM by ``sandbox.control.down``.

    python -m sandbox.daemon --name default --port 55985 [--locale de_DE] [--realm]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time

from sandbox import layout, netns, pki
from sandbox.host.executor import WineExecutor
from sandbox.host.prefix import WinePrefix
from sandbox.kdc import Kdc
from sandbox.winrm.server import WinRMServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="default")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--https-port", type=int, default=None)
    parser.add_argument("--realm", action="store_true",
                        help="also run a Kerberos KDC for this host (sandbox.kdc) and accept "
                        "Kerberos at the endpoint")
    parser.add_argument("--offline", action="store_true",
                        help="the host's Wine processes in a network namespace of their own "
                        "with only its loopback (sandbox.netns)")
    parser.add_argument("--locale", default=None,
                        help="the host's language as a Linux locale, e.g. de_DE (Wine speaks it)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    paths = layout.Paths(args.name)
    logging.basicConfig(filename=paths.root / "daemon.log", level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    prefix = WinePrefix(paths.prefix, args.locale,
                        netns=netns.create(args.name) if args.offline else None)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    kdc = Kdc(paths.root / "kdc", args.name) if args.realm else None
    if kdc is not None:
        kdc.create()
        kdc.start()
        # the endpoint's acceptor (pyspnego over GSSAPI) reads its key from KRB5_KTNAME
        os.environ["KRB5_CONFIG"] = str(kdc.krb5_conf)
        os.environ["KRB5_KTNAME"] = str(kdc.keytab)
    prefix.start_server()
    executor = WineExecutor(prefix, log_file=paths.root / "agent.log")
    pki.ensure_pki(paths.root / "pki", layout.USER)  # client certificates for the HTTPS listener
    https_port = args.https_port if args.https_port is not None else (
        args.port + 1 if args.port else 0)
    server = WinRMServer(executor, user=layout.USER, password=paths.read_password(),
                         state_dir=paths.root, port=args.port, https_port=https_port)
    try:
        executor.start("exit 0").wait(120)  # the agent is warm before anyone connects
        server.start()
        state = {
            "name": args.name, "pid": os.getpid(), "endpoint": server.endpoint,
            "https_endpoint": server.https_endpoint, "ca_file": server.ca_file,
            "user": layout.USER, "password_file": str(paths.password),
            "prefix": str(paths.prefix), "state_dir": str(paths.root),
            "locale": args.locale or "", "lang": prefix.unix_locale,
            "offline": bool(args.offline),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "startup_seconds": round(time.monotonic() - started, 2),
        }
        if kdc is not None:
            state["kerberos"] = kdc.info()
        state["certificates"] = {
            "client_ca": str(paths.root / "pki" / "client-ca.pem"),
            "crl": str(paths.root / "pki" / "crl.pem"),
            **{kind: {"cert_pem": str(paths.root / "pki" / f"{stem}.pem"),
                      "cert_key_pem": str(paths.root / "pki" / f"{stem}.key")}
               for kind, stem in (("user", layout.USER), ("expired", f"{layout.USER}-expired"),
                                  ("revoked", f"{layout.USER}-revoked"),
                                  ("unknown_ca", "stranger"))}}
        layout.write_json(paths.state, state)
        logging.info("sandbox %s up: %s", args.name, server.endpoint)
        stop.wait()
    finally:
        server.stop()
        executor.close()
        prefix.stop_server()
        if prefix.netns:
            netns.delete(args.name)
        if kdc is not None:
            kdc.stop()
        paths.state.unlink(missing_ok=True)
        logging.info("sandbox %s stopped", args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

