"""tacfleet's Invoke tasks for a checkout (``invoke --list``). They live in ``tacfleet_tasks``,
which the installed tool's ``tacfleet`` command runs as well (``tacfleet --list``)."""

from tacfleet_tasks import ns

__all__ = ["ns"]
