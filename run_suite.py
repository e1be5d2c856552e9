#!/usr/bin/env python3
"""rnn-gradient-suite entry point; see ``python run_suite.py --help`` and docs/ (README.md links into it)."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from suite.cli import main

if __name__ == "__main__":
    sys.exit(main())
