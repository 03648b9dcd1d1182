#!/bin/sh
# A PostgreSQL server for the tests of the PostgreSQL history store (tests/history/):
# Debian's postgresql package, installed by `make test` where this machine allows it (root
# and apt-get). The tests start their own server from it, in a temporary data directory on
# a free local port (as the postgres user when run as root: PostgreSQL refuses root).
# Elsewhere those tests are skipped with a message saying so; this never fails the build.
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing Debian's postgresql package for the history-store tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends postgresql >/dev/null; } \
    || echo "could not install postgresql: the PostgreSQL store tests will be skipped" >&2
else
  echo "postgresql is not installed and cannot be installed here (needs root and apt-get):" \
       "the PostgreSQL store tests will be skipped" >&2
fi
exit 0
