"""`python -m controller.runner`: the same as `ai-implement-runner`."""

import sys

from controller.runner.main import main

sys.exit(main())
