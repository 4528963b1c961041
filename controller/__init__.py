"""AI-Implement: a Kubernetes operator that turns tickets labelled for AI work into coding-agent runs."""

__version__ = "0.1.0"
