"""Reaching a Windows host and reading it, laid out like testinfra's backends: ``connection``
(the protocol, ``Result``), one module per transport (``winrm_connection`` over
``wsman_transport``, ``local_connection``), ``open`` (the one an inventory entry describes),
``cmdline`` (every command line sent) and ``probe`` (the host's facts from one command)."""
