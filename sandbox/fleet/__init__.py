"""A simulated fleet: many WinRM endpoints in one process, answering from recorded transcripts."""
