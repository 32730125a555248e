"""`jiseki` for processes Wine starts without the harness's environment (a service): argv[1] is the
jiseki source folder, the rest is jiseki's command line. The folder is also put in $JISEKI_SRC so that
the worker the service starts (which inherits the environment) finds it too."""

import os
import sys

os.environ["JISEKI_SRC"] = sys.argv[1]
sys.path.insert(0, sys.argv[1])

from jiseki.cli import main

sys.exit(main(sys.argv[2:]))
