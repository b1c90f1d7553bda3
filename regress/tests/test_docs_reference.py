"""The SQL reference's examples run and print what the page shows."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mddoctest import run_page  # noqa: E402

if __name__ == "__main__":
    sys.exit(1 if run_page("docs/sql-reference.md",
                           setup_sql="SET search_path = stackhouse, public;\n") else 0)
