"""Unit tests of the compliance package."""
