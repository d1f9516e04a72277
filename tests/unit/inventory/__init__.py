"""Unit tests of the inventory package."""
