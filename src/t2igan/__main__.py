import sys

from t2igan.cli import main

sys.exit(main())
