"""The controller's runner callbacks (`/runner/*`) as a run calls them.

Both the real runner and the sandbox's simulated one use this client.
"""

from controller.callbacks.client import (
    Action,
    Answer,
    CallbackClient,
    CallbackRefused,
    Credentials,
    GitHubAccess,
    Purpose,
    Verdict,
    verdict,
)

__all__ = [
    "Action",
    "Answer",
    "CallbackClient",
    "CallbackRefused",
    "Credentials",
    "GitHubAccess",
    "Purpose",
    "Verdict",
    "verdict",
]
