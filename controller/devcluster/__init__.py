"""A local Kubernetes control plane (etcd + kube-apiserver on loopback) for development and tests."""

from controller.devcluster.binaries import ControlPlaneBinaries, locate_binaries
from controller.devcluster.controlplane import ControlPlane
from controller.devcluster.crds import install_crds
from controller.devcluster.errors import ControlPlaneError

__all__ = ["ControlPlane", "ControlPlaneBinaries", "ControlPlaneError", "install_crds", "locate_binaries"]
