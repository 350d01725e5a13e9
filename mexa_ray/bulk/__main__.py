"""`python -m mexa_ray.bulk ...`: the bulk evaluation job's entry point (what `ray job submit`
runs)."""

import sys

from mexa_ray.bulk.job import main

sys.exit(main())
