"""The compliance checks written the stock testinfra way: one command per check.

What a testinfra suite over the stock ``winrm://`` backend runs to verify what tacfleet's single
fact probe verifies; each ``host.run`` there opens a new NTLM session and WinRS shell. The lines
are recorded into the transcript next to the probe (``record --stock-checks``) so simulated hosts
answer them too. Each check is (name, command line, text the output must contain).
"""

from __future__ import annotations

VENV = r"C:\PythonEnvs\tacdemo"
VENV_PY = VENV + r"\Scripts\python.exe"
SERVICE_KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\tacdemo"

STOCK_CHECKS: list[tuple[str, str, str]] = [
    ("base python version", r"C:\Python311\python.exe --version", "Python 3.11"),
    ("venv exists", rf"if exist {VENV}\pyvenv.cfg (echo yes) else (echo no)", "yes"),
    ("venv python version", rf"{VENV_PY} --version", "Python 3.11"),
    ("venv config", rf"type {VENV}\pyvenv.cfg", "home"),
    ("twisted importable", rf'{VENV_PY} -c "import twisted; print(twisted.__version__)"', "."),
    ("pywin32 importable", rf'{VENV_PY} -c "import win32api; print(win32api.__file__)"',
     "win32api"),
    ("tacdemo installed", rf"{VENV_PY} -m pip show tacdemo", "Version: 1.0.0"),
    ("twistd runs", rf"{VENV}\Scripts\twistd.exe --help", "Usage"),
    ("tac file present", r"if exist C:\Apps\tacdemo\my_tacfile.tac (echo yes) else (echo no)",
     "yes"),
    ("nssm present", rf"if exist {VENV}\Scripts\nssm.exe (echo yes) else (echo no)", "yes"),
    ("service exists", "sc query tacdemo", "SERVICE_NAME"),
    ("service running", "sc query tacdemo", "RUNNING"),
    ("service config", "sc qc tacdemo", "AUTO_START"),
    ("service description", "sc qdescription tacdemo", "tacdemo"),
    ("service registry", f"reg query {SERVICE_KEY}", "ObjectName"),
    ("nssm parameters", rf"reg query {SERVICE_KEY}\Parameters", "AppDirectory"),
    ("nssm environment", rf"reg query {SERVICE_KEY}\Parameters /v AppEnvironmentExtra",
     "TACDEMO_PORT"),
    ("venv ACL", f"icacls {VENV}", "tacdemo"),
    ("app folder ACL", r"icacls C:\Apps\tacdemo", "tacdemo"),
    ("app port open", "netstat -an", "58070"),
]
