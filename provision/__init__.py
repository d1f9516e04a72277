"""The provisioner: ordered, idempotent steps that bring a host to its inventory entry."""
