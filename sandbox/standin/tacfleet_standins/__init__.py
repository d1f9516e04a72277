"""Stand-ins for what Wine 8 lacks on the sandbox host, in the formats Windows prints.

Installed into the host's base Python, so pip makes real console-script launchers,
``C:\\Python311\\Scripts\\sc.exe`` and ``icacls.exe``, ahead of System32 on the host's PATH.
"""

__version__ = "1.0.0"
