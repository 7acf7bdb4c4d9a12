#!/usr/bin/env bash
# Builds datumfs three ways and runs the suites in each:
#   build-release  the optimized build users and packagers make (-Dbuildtype=release): unit,
#                  integration, and the Debian package (built, installed, tried, purged);
#   build-asan     address+undefined sanitizers, built with Clang (which checks the lock
#                  annotations): unit, integration, chaos;
#   build-tsan     thread sanitizer: unit, integration, chaos.
# Prints "tests: N passed, N failed, N skipped" at the end.
set -uo pipefail
cd "$(dirname "$0")/.."

run_build() {  # run_build DIR "MESON TEST OPTIONS" [meson setup options...]
  local dir=$1 test_options=$2
  shift 2
  if [ ! -d "$dir" ]; then
    meson setup "$dir" -Dintegration=enabled "$@" || return 1
  fi
  meson compile -C "$dir" || return 1
  # shellcheck disable=SC2086
  meson test -C "$dir" --print-errorlogs $test_options
}

# The Debian package test installs the package it builds (and purges it again).
export DATUMFS_PACKAGE_TEST=1
rc=0
# The chaos test runs where it finds the most: under the sanitizers.
run_build build-release "--no-suite chaos" -Dbuildtype=release || rc=1
# Unity builds (a quarter less compile time); the release build compiles each file alone.
# Built with Clang, whose -Wthread-safety (meson.build) checks the lock annotations. (Not the
# TSan build: Clang 14's TSan runtime crashes while reporting the close that test/tsan.supp
# suppresses, before it gets to the suppression.)
CC=clang CXX=clang++ run_build build-asan "" -Db_sanitize=address,undefined -Db_lundef=false \
  -Dunity=on || rc=1
run_build build-tsan "" -Db_sanitize=thread -Db_lundef=false -Dunity=on || rc=1

# One closing line over the builds, counted from meson's own logs.
/usr/bin/python3 - <<'PY'
import json, os
passed = failed = skipped = 0
for d in ("build-release", "build-asan", "build-tsan"):
    path = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        failed += 1
        continue
    for line in open(path):
        r = json.loads(line)["result"]
        if r == "OK":
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $rc
