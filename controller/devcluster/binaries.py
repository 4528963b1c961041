"""Finding kube-apiserver and etcd: KUBEBUILDER_ASSETS, then the build cache, then a build."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from controller.devcluster.errors import ControlPlaneError

BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "hack" / "build-control-plane.sh"


@dataclass(frozen=True)
class ControlPlaneBinaries:
    """The two programs a control plane needs."""

    kube_apiserver: Path
    etcd: Path


def _binaries_in(directory: Path) -> ControlPlaneBinaries | None:
    kube_apiserver, etcd = directory / "kube-apiserver", directory / "etcd"
    if os.access(kube_apiserver, os.X_OK) and os.access(etcd, os.X_OK):
        return ControlPlaneBinaries(kube_apiserver=kube_apiserver, etcd=etcd)
    return None


def locate_binaries(*, build: bool = True) -> ControlPlaneBinaries:
    """The envtest convention first, so users can bring their own binaries; building is the last resort."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets:
        found = _binaries_in(Path(assets))
        if found is None:
            raise ControlPlaneError(
                f"KUBEBUILDER_ASSETS={assets} does not hold executable kube-apiserver and etcd; "
                "point it at a directory that does, or unset it to use the build cache"
            )
        return found
    if not BUILD_SCRIPT.exists():
        raise ControlPlaneError(
            "no control-plane binaries: set KUBEBUILDER_ASSETS to a directory with kube-apiserver and etcd"
        )
    if not build:
        raise ControlPlaneError("control-plane binaries are not built yet: run `make control-plane`")
    result = subprocess.run(  # noqa: S603 - our own script, no user input
        [shutil.which("bash") or "/bin/bash", str(BUILD_SCRIPT)], check=False, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise ControlPlaneError(f"building the control plane failed:\n{result.stderr[-4000:]}")
    found = _binaries_in(Path(result.stdout.strip().splitlines()[-1]))
    if found is None:
        raise ControlPlaneError(f"the build script did not produce the binaries:\n{result.stdout}")
    return found
