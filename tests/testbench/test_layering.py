"""The web process never loads torch or NVML: they belong to bench processes."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_web_process_imports_neither_torch_nor_pynvml(tmp_path):
    code = ("import sys, django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'refurb.settings'); "
            "django.setup(); import refurb.urls, refurb.wsgi, testbench.hardware; "
            "print(sorted(m for m in ('torch', 'pynvml') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"REFURB_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_worker_processes_run_without_django():
    # A card's worker process is spawned fresh: the code it imports must not need Django set up.
    code = ("import sys; import testbench.orchestration.workers, testbench.runner, testbench.hardware.discovery; "
            "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
