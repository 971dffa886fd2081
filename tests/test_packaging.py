"""
C{pip install .} gives the C{twistd chat} plugin and the C{chat-client} command: the wheel is
built and installed into a fresh virtualenv, offline (the dependencies are this test run's own,
through a C{.pth} file, so that nothing is downloaded).
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]


def run(*argv: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(arg) for arg in argv], capture_output=True, text=True, timeout=120, cwd=cwd
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_theWheelInstallsThePluginAndTheClient(tmp_path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for tree in ("chat", "twisted"):
        shutil.copytree(ROOT / tree, source / tree, ignore=shutil.ignore_patterns("__pycache__", "dropin.cache"))
    run(*PIP, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", source)
    (wheel,) = (tmp_path / "dist").glob("chat-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "twisted/plugins/chat_plugin.py" in names
    assert "twisted/plugins/__init__.py" not in names  # it would shadow Twisted's own
    assert {"chat/metrics.py", "chat/config.py", "chat/systemd.py"} <= set(names)

    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    installed = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip())
    run(*PIP, "--python", python, "install", "--no-deps", "--no-index", wheel)
    # Then, not before: pip would take the chat in this run's environment for installed.
    (installed / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    where = run(python, "-c", "import chat.tap; print(chat.tap.__file__)", cwd=tmp_path)
    assert where.startswith(str(installed)), where
    assert "--metrics" in run(python, "-m", "twisted", "chat", "--help", cwd=tmp_path)
    assert "Connect to a chat server" in run(target / "bin" / "chat-client", "--help", cwd=tmp_path)
