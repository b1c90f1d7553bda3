"""The retention page's SQL examples run as written (policies, on-demand
runs, the activity view); the pg_cron line needs pg_cron and is not run."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mddoctest import run_page  # noqa: E402

if __name__ == "__main__":
    sys.exit(1 if run_page("docs/retention.md") else 0)
