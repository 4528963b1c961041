"""The one exception of the local control plane."""


class ControlPlaneError(RuntimeError):
    """The local control plane could not be found, built, started or used."""
