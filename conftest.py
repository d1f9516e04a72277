"""Root pytest configuration of a checkout: tacfleet's options and markers (``checks/options.py``).

``pytest checks --host NAME [--inventory FILE]`` selects hosts from the inventory; the compliance
fixtures live in ``checks/conftest.py``.
"""

pytest_plugins = ["checks.options"]
