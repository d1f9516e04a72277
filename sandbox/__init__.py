"""The sandbox host: a Windows host in a box (Wine) behind a real WinRM endpoint on 127.0.0.1."""
