"""``python -m bench``: run every benchmark and print the table (see `bench.run`)."""

import sys

from bench.run import main

sys.exit(main())
