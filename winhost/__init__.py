"""Talking to and reading a Windows host: connections, cmd.exe command lines, tool-output parsers, facts."""
