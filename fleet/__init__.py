"""Fleet concerns shared by provisioning and drift: which hosts (shards, batches), a bounded pool
with the per-host outcome, Ctrl-C, live progress and the run log. Imports neither."""
