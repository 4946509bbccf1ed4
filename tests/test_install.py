"""The project installed from a wheel into a fresh virtual environment: one import name, `qa`,
and `import qa` stays light (no torch, gradio or faiss)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.paths import ROOT

#: what the wheel is built from: the source tree without tests, benchmarks, caches or builds
_NOT_SOURCE = shutil.ignore_patterns(".*", "__pycache__", "*.egg-info", "build", "dist",
                                     "tests", "bench", "seeds")
_HEAVY = ("torch", "gradio", "faiss")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv holding the project's wheel (built without network or build isolation) and
    seeing the project venv's packages through a .pth line, so the heavy libraries are there
    to be (not) imported; returns the venv's python."""
    work = tmp_path_factory.mktemp("install")
    source, wheels, env = work / "source", work / "wheels", work / "venv"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(wheels), str(source)], check=True, capture_output=True, text=True)
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    site = Path(subprocess.run([str(python), "-I", "-c", "import sysconfig; "
                                "print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # the dependencies, from the project venv; its .pth files (the editable install's) are
    # not processed from a path added this way
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index",
                    *map(str, wheels.glob("*.whl"))], check=True, capture_output=True, text=True)
    return python


def _run(python: Path, code: str, cwd: Path) -> str:
    """Run `code` isolated (-I: no cwd, PYTHONPATH or user site on sys.path) from `cwd`."""
    return subprocess.run([str(python), "-I", "-c", code], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout


def test_the_wheel_installs_exactly_one_import_name(installed: Path, tmp_path: Path) -> None:
    code = (
        "import json; from importlib.metadata import distribution\n"
        "d = distribution('article-qa')\n"
        "print(json.dumps({'top_level': d.read_text('top_level.txt').split(),\n"
        "    'files': [f.parts[0] for f in d.files],\n"
        "    'location': str(d.locate_file(''))}))\n"
    )
    found = json.loads(_run(installed, code, tmp_path))
    assert found["location"].startswith(str(installed.parents[1]))  # this venv's, not editable
    assert found["top_level"] == ["qa"]
    names = {part for part in found["files"] if not part.endswith(".dist-info")
             and part != ".."}  # `..` holds the `qa` console script in the venv's bin/
    assert names == {"qa"}


def test_import_qa_loads_no_heavy_library(installed: Path, tmp_path: Path) -> None:
    (tmp_path / "index.py").write_text("raise SystemExit('a user file shadowed the project')")
    (tmp_path / "ui.py").write_text("raise SystemExit('a user file shadowed the project')")
    code = (
        "import importlib.util, json, sys\n"
        "import qa, qa.index, qa.ui\n"
        "from qa import QA, answer\n"
        f"heavy = {_HEAVY!r}\n"
        "print(json.dumps({'qa': qa.__file__,\n"
        "    'loaded': sorted({m.split('.')[0] for m in sys.modules} & set(heavy)),\n"
        "    'available': [h for h in heavy if importlib.util.find_spec(h)]}))\n"
    )
    found = json.loads(_run(installed, code, tmp_path))
    assert found["qa"].startswith(str(installed.parents[1]))  # the installed copy
    assert found["available"] == list(_HEAVY)  # so that their absence below means something
    assert found["loaded"] == []
