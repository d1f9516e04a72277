"""tacdemo: the small Twisted app the sandbox host runs (see my_tacfile.tac)."""

__version__ = "1.0.0"
