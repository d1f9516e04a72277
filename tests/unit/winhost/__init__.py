"""Unit tests of the winhost package."""
