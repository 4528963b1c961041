"""Dispatches and runs: the pure run rules, the Dispatch reconciler that carries them out (start, follow,
finish, close out), the launch of a run on its backend, and the ticket updates a run makes."""
