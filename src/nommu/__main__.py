import sys

from nommu.cli import main

sys.exit(main())
