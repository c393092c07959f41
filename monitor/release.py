"""The release of callmonitor, declared here alone: pyproject.toml takes the package's version from it,
``call-monitor --version`` says it, and each heartbeat tells the supervisor's console (docs/development.md
says when to raise it)."""

RELEASE = "0.7.7"

FIRST_TOLD = "0.2.0"
"""The first release whose daemon tells its release (a heartbeat's ``status.version``, the status
socket's ``version``): a daemon that tells none runs an earlier one."""


def release_said(told: object) -> str:
    """A daemon's release as it told it, or, told none, that it is one before :data:`FIRST_TOLD`."""
    return told if isinstance(told, str) and told else f"before {FIRST_TOLD}"
