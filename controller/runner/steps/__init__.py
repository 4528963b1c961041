"""The built-in pipeline steps, one file each; its name is the step's id (`_` read as `-`).

Files starting with `_` are shared helpers, not steps. The interface is in `controller.runner.step`.
"""
