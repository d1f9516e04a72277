"""Talking to and reading a Windows host: connections, command lines, parsers, facts."""
