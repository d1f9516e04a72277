"""Unit tests of the checks package (the parts that need no host)."""
