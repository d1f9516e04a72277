"""Integration tests: the real pywinrm client against the sandbox host and the simulated fleet."""
