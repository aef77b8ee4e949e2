"""A real ``reach`` process for tests: the public pieces of ``reach.testing``, under the names
the suite has always imported them by."""

from __future__ import annotations

from reach.testing import (
    HOST,
    RunningServer,
    free_port,
    reach,
    running_server,
    server_environment,
)

__all__ = ["HOST", "RunningServer", "free_port", "reach", "running_server", "server_environment"]
