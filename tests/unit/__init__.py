"""Unit tests: no Wine, no network beyond loopback."""
