#!/usr/bin/env bash
# Makes the PyTorch parity fixtures under testdata/fixtures (git-ignored).
# Needs Debian's python3-torch; installs it when apt-get is available.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
  else
    echo "fixtures: python3-torch missing and cannot be installed" >&2; exit 1
  fi
fi
mkdir -p testdata/fixtures
for s in scripts/fixtures/*.py; do
  [ -e "$s" ] || continue
  /usr/bin/python3 "$s" testdata/fixtures
done
