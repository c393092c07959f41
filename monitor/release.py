"""The release of callmonitor, declared here alone: pyproject.toml takes the package's version from it,
``call-monitor --version`` says it, and each heartbeat tells the supervisor's console (docs/development.md
says when to raise it)."""

RELEASE = "0.2.0"
