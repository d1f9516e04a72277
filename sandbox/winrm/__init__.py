"""The sandbox's WinRM endpoint: WS-Management over HTTP(S) on 127.0.0.1 (see ``server``)."""
