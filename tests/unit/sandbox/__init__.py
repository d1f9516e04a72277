"""Unit tests of the sandbox package (no Wine)."""
