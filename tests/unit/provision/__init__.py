"""Unit tests of the provision package."""
