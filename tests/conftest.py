"""Shared fixtures. Tests never touch the network nor the user's caches: the Hugging Face
caches point into a temporary folder and the Hub is marked offline."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_caches(tmp_path_factory):
    home = tmp_path_factory.mktemp("hf_home")
    old = {k: os.environ.get(k) for k in ("HF_HOME", "HF_DATASETS_CACHE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_TOKEN")}
    os.environ.update(HF_HOME=str(home), HF_DATASETS_CACHE=str(home / "datasets"),
                      HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    os.environ.pop("HF_TOKEN", None)
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
