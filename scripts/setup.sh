#!/bin/bash
# scripts/setup.sh -- install the Debian 12 packages stackhouse needs to build
# and test (the list is scripts/packages.txt, shared with .ci/run).
# Runs apt-get as root, or through sudo when run as another user.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
mapfile -t PKGS < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$ROOT/scripts/packages.txt" | grep -v '^$')

if [ "$(id -u)" -eq 0 ]; then
	SUDO=()
elif command -v sudo >/dev/null 2>&1; then
	SUDO=(sudo)
else
	echo "setup.sh: run as root (or install sudo): it installs Debian packages" >&2
	exit 1
fi
command -v apt-get >/dev/null 2>&1 || { echo "setup.sh: needs apt-get (Debian 12)" >&2; exit 1; }

echo "== installing: ${PKGS[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PKGS[@]}" </dev/null

# postgresql-15 provides the server binaries outside PATH; everything here finds
# them through pg_config --bindir.
echo "== PostgreSQL: $(pg_config --version) (server binaries in $(pg_config --bindir))"
