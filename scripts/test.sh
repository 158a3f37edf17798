#!/usr/bin/env bash
# Builds hubcache and runs the whole test suite (unit, component, CLI, interop with the JS client).
#   scripts/test.sh            normal build in build/
#   HUBCACHE_SANITIZE=1 scripts/test.sh   ASan + UBSan build in build-asan/
#   HUBCACHE_SANITIZE=thread scripts/test.sh   ThreadSanitizer build in build-tsan/ (third-party
#                                         suppressions: tests/tsan.supp)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The interop tests skip themselves without the JS client; in this command that is a failure.
[ -f tests/interop/node_modules/@huggingface/hub/package.json ] || {
  echo "test.sh: tests/interop/node_modules is missing after install-deps; cannot run interop tests" >&2; exit 1; }
build=build; extra=()
case "${HUBCACHE_SANITIZE:-0}" in
  0) ;;
  1)
    build=build-asan; extra=(-DHUBCACHE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ;;
  thread)
    build=build-tsan; extra=(-DHUBCACHE_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug)
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp" ;;
  *) echo "test.sh: HUBCACHE_SANITIZE=$HUBCACHE_SANITIZE: use 1 (ASan + UBSan) or thread (TSan)" >&2; exit 2 ;;
esac
cmake -S . -B "$build" -G Ninja -DHUBCACHE_WERROR=ON "${extra[@]}" >/dev/null
cmake --build "$build" -j2
ctest --test-dir "$build" -j2 --output-on-failure --timeout 300
