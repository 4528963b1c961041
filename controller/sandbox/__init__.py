"""Sandboxes: stateful aiohttp servers speaking the external services' HTTP contracts.

Tests run the real clients against them over loopback; `ai-implement dev` will seed them with
sample data. See docs/sandbox.md for what each implements and how to inject faults.
"""

from controller.sandbox.base import Fault, FaultKind, RecordedRequest, Rejection, Sandbox, serve
from controller.sandbox.fly import FlySandbox
from controller.sandbox.jira import JiraSandbox
from controller.sandbox.linear import LinearSandbox, linear_schema

__all__ = [
    "Fault",
    "FaultKind",
    "FlySandbox",
    "JiraSandbox",
    "LinearSandbox",
    "RecordedRequest",
    "Rejection",
    "Sandbox",
    "linear_schema",
    "serve",
]
