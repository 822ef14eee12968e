#!/usr/bin/env bash
# Browser tests of the console in headless Chromium (Debian package `chromium`).
#
# The tests themselves are Rust integration tests (crates/smishtrap/tests/console_browser.rs)
# that drive /usr/bin/chromium over the DevTools protocol; they run with `cargo test` and skip
# with a printed notice when Chromium is absent. This script installs Chromium when it can
# (root with apt) and runs only them, with their output (including the measured
# send-to-screen latency) shown.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

cargo test -p smishtrap --test console_browser -- --nocapture "$@"
