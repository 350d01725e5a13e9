"""`python -m mexa_ray.cli ...`: the `mexa` command without its script."""

import sys

from mexa_ray.cli import main

sys.exit(main())
