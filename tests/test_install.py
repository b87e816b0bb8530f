"""`pip install` the wheel into a new virtualenv outside the checkout, then `sisock up` from any directory.

What a new user does: build the wheel (``pip wheel --no-deps``), install it
into a fresh virtualenv, run ``sisock up`` in an empty directory, and find
the router, the hub, both nodes, the bridge and the web client working. The
router config and the web client must come from the installed package, not
from the source tree.

To stay fast, the virtualenv gets the dependencies already installed for
the tests through a ``.pth`` line (lines of a ``.pth`` file only extend
``sys.path``: the checkout's editable-install hook there is not run), and
the ``crossbar`` command that installing crossbar would put next to its
Python. The wheel's files are the only sisock on its path. Only bjdata
(crossbar's UBJSON dependency, an sdist) is built and installed into it as a
plain ``pip install`` builds it, against NumPy 1 on Python < 3.13: neither
``sisock --help`` nor any part's log may show NumPy's traceback about it.
"""

import importlib.metadata
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
import requests

from tests.test_launcher import Up, clean_env, sigterm_and_check_every_process_is_gone

ROOT = Path(__file__).resolve().parents[1]
#: Not part of the source a wheel is built from (environments, caches, outputs).
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv*", "node_modules", "build", "dist", "*.egg-info", ".crossbar",
                                    ".sisock", "test-artifacts", "__pycache__", ".pytest_cache", ".schemathesis")
CROSSBAR_SCRIPT = "#!{python}\nimport sys\nfrom crossbar import run\nsys.exit(run())\n"

pytestmark = pytest.mark.timeout(300)
#: What NumPy prints when an extension built for NumPy 1 is imported under NumPy 2.
NUMPY_ABI_TRACEBACK = "compiled using NumPy 1.x"


def build_wheel(tmp_path):
    """``pip wheel --no-deps`` of a copy of the checkout (the build leaves ``build/`` and
    ``*.egg-info`` in its source, whose stale files would go into later wheels); the wheel's path."""
    if not (ROOT / "sisock" / "web" / "vendor" / "autobahn.min.js").is_file():
        pytest.fail("sisock/web/vendor/ is missing: run `npm ci && node web/build.mjs` (`make test` does it)",
                    pytrace=False)
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE, symlinks=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(tmp_path / "dist"), str(source)], check=True, timeout=120)
    (wheel,) = (tmp_path / "dist").glob("sisock-*.whl")
    return wheel


def new_virtualenv(directory, wheel):
    """A virtualenv with ``wheel`` installed and this interpreter's packages as its dependencies."""
    venv.create(directory, with_pip=False)
    python = directory / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True, timeout=120)
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    Path(site, "sisock-test-dependencies.pth").write_text("".join(f"{path}\n" for path in sorted(deps)))
    crossbar = directory / "bin" / "crossbar"
    crossbar.write_text(CROSSBAR_SCRIPT.format(python=python))
    crossbar.chmod(0o755)
    return python, Path(site)


def install_bjdata_as_pip_builds_it(python, directory):
    """Build bjdata (crossbar's dependency, an sdist) as a plain ``pip install`` does, in an isolated build
    environment, and install it into the virtualenv of ``python`` ahead of the shared dependencies."""
    version = importlib.metadata.version("bjdata")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-binary", "bjdata",
                    "--wheel-dir", str(directory), f"bjdata=={version}"], check=True, timeout=200)
    (wheel,) = directory.glob("bjdata-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True, timeout=120)


def test_a_wheel_installed_in_a_new_virtualenv_runs_the_whole_stack_from_any_directory(tmp_path):
    python, site = new_virtualenv(tmp_path / "venv", build_wheel(tmp_path))
    install_bjdata_as_pip_builds_it(python, tmp_path / "bjdata")
    run = tmp_path / "run"
    run.mkdir()
    env = {k: v for k, v in clean_env().items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    found = subprocess.run([python, "-c", "import sisock, nodes, grafana_bridge as g; print(sisock.__file__); "
                            "print(nodes.__file__); print(g.__file__)"],
                           cwd=run, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert all(Path(path).is_relative_to(site) for path in found), found
    helped = subprocess.run([python.parent / "sisock", "--help"], cwd=run, env=env, capture_output=True, text=True)
    assert helped.returncode == 0 and "Traceback" not in helped.stderr and NUMPY_ABI_TRACEBACK not in helped.stderr, \
        helped.stderr

    up = Up(str(tmp_path), sisock=str(python.parent / "sisock"), cwd=str(run), env=env)
    try:
        up.wait_line(r"^sisock: stack ready$", timeout=90)
        router = (run / ".sisock" / "router" / "config.json").read_text()
        assert str(site / "sisock" / "web") in router and str(ROOT) not in router
        web = f"http://127.0.0.1:{up.port}"
        page = requests.get(f"{web}/", timeout=10)
        assert page.status_code == 200 and "js/main.js" in page.text
        for path in ("js/main.js", "vendor/autobahn.min.js", "vendor/uPlot.iife.min.js"):
            assert requests.get(f"{web}/{path}", timeout=10).status_code == 200, path
        targets = requests.post(f"http://127.0.0.1:{up.bridge_port}/search", json={"target": ""}, timeout=10)
        assert targets.status_code == 200
        assert "weather::temperature" in targets.json()
        assert any(t.startswith("sensors::") for t in targets.json()), targets.json()
        sigterm_and_check_every_process_is_gone(up)
    finally:
        up.stop()
    for log in (run / ".sisock" / "logs").glob("*.log"):
        assert NUMPY_ABI_TRACEBACK not in log.read_text(errors="replace"), log
