"""tacfleet's tests."""
