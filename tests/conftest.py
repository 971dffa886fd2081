import sys
from pathlib import Path

# Let tests import their helpers module without making tests/ a package.
sys.path.insert(0, str(Path(__file__).parent))


import pytest  # noqa: E402
from twisted.logger import formatEvent, globalLogPublisher  # noqa: E402

from daemon import startDaemon  # noqa: E402


@pytest.fixture
def logged():
    """
    The log messages from now on, formatted.
    """
    lines: list[str] = []

    def observe(event: dict) -> None:
        lines.append(formatEvent(event))

    globalLogPublisher.addObserver(observe)
    yield lines
    globalLogPublisher.removeObserver(observe)


@pytest.fixture
def daemons(tmp_path):
    """
    Start real daemons with C{daemons(*options)}; each is stopped after the test, and none
    may have logged a traceback.
    """
    running = []

    def start(*options: str):
        daemon = startDaemon(tmp_path, *options)
        running.append(daemon)
        return daemon

    yield start
    for daemon in running:
        daemon.stop()
        assert "Traceback" not in daemon.log()
