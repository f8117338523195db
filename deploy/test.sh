#!/usr/bin/env bash
# deploy/test.sh - run every test of hotline.
#
# Installs missing Debian packages (as root), then twice: builds (warnings
# are errors) and runs the unit and integration tests with ctest; the second
# build has AddressSanitizer and UndefinedBehaviorSanitizer. In between it
# compiles the Release type (-O3) without tests: gcc warns differently at
# each optimisation level, and a packager's build must not fail. Integration
# tests start their own PostgreSQL, Redis and router on free loopback ports
# in temporary folders; nothing system-wide is touched.
#
# Usage: ./deploy/test.sh [--no-sanitize] [ctest arguments, e.g. -L unit or -R intake]
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib.sh

sanitize=1
args=()
for arg in "$@"; do
    case $arg in
    --no-sanitize) sanitize= ;;
    -h | --help) hl_usage "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$arg") ;;
    esac
done

# The tests also drive HTTP (curl), read JSON (python3), run the console in
# a headless browser (chromium, with a font for Chinese in its screenshots),
# check the Prometheus config (promtool) and count connections (ss, iproute2).
hl_install_deps curl python3 chromium fonts-wqy-microhei prometheus iproute2
jobs=$(nproc)
[ "$jobs" -gt 4 ] && jobs=4

run_suite() {
    local dir=$1 what=$2; shift 2
    hl_say "building $what ($dir)"
    hl_build "$dir" "$@"
    hl_say "testing $what"
    (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 600 "${args[@]}")
}

start=$(date +%s)
run_suite build "release build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
hl_say "compiling the Release type (-O3, warnings are errors; no tests)"
hl_build build-O3 -DCMAKE_BUILD_TYPE=Release -DHL_BUILD_TESTS=OFF
if [ -n "$sanitize" ]; then
    # Leak checks stay on; abort on the first sanitizer report.
    export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    # The randomized figures run takes 20,000 tickets here, not 50,000: every
    # path still comes up hundreds of times, and the suite stays well inside
    # CI's 20 minutes on a 2-core machine.
    export HL_FIGURES_N=${HL_FIGURES_N:-20000}
    run_suite build-asan "sanitizer build (ASan+UBSan)" -DCMAKE_BUILD_TYPE=Debug -DHL_SANITIZE=ON
fi
hl_say "all tests passed in $(($(date +%s) - start)) s"
