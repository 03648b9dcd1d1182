#!/bin/sh
# Headless Chromium for the browser tests (tests/run/test_browser.py): Debian's package,
# installed by `make test` where this machine allows it (root and apt-get). Elsewhere the
# browser tests are skipped with a message saying so; this script never fails the build.
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing Debian's chromium package for the browser tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
    || echo "could not install chromium: the browser tests will be skipped" >&2
else
  echo "chromium is not installed and cannot be installed here (needs root and apt-get):" \
       "the browser tests will be skipped" >&2
fi
exit 0
