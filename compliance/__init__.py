"""What must be true on a host, judged from facts: shared by the checks and the provisioner."""
