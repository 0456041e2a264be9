"""Offline replacement for get-pip.py, used by ansible-test to bootstrap pip into its sanity venvs.

ansible-test downloads get-pip.py from a host this machine cannot reach; the venv's own ensurepip does the
same job, then pip installs the pinned packages ansible-test asked for (from the configured package index).
"""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
# ensurepip hides the pip configuration from itself (and leaves that in os.environ); the real install needs it back.
os.environ.pop("PIP_CONFIG_FILE", None)
os.environ.pop("ENSUREPIP_OPTIONS", None)
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", *args])
