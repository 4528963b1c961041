"""How configuration problems are reported: one value per bad variable, never the secret it holds."""

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with one variable, phrased so the operator can fix it without reading code.

    The message names the variable, says what is wrong (quoting the value only when it is not a
    secret) and what would be right.
    """

    variable: str
    message: str

    def __str__(self) -> str:
        return self.message


class ConfigurationError(Exception):
    """Raised when the environment cannot produce valid settings.

    It carries every problem found, not just the first, so that one restart is enough to fix them all.
    """

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        lines = [f"Invalid configuration ({count} problem{'' if count == 1 else 's'}):"]
        lines += [f"  {problem.message}" for problem in self.problems]
        super().__init__("\n".join(lines))
