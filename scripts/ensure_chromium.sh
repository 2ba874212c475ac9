#!/usr/bin/env bash
# Install Debian's chromium for the browser tests when it is missing and we may.
set -u
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian chromium for the browser tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "could not install chromium: browser tests will be skipped"
else
  echo "chromium not found and cannot be installed here (need root and apt-get): browser tests will be skipped"
fi
