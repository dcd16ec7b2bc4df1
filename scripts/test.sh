#!/bin/sh
# The whole test suite, as CI runs it: a gcc release build with -Werror and every test, an
# ASan+UBSan clang build with every test, each public header compiled alone, the engine
# floating-point check, the same log replayed by four builds (scripts/determinism.sh), and a
# short libFuzzer run of every fuzz target. Stops at the first failure.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

echo "== gcc release build (-Werror) and tests"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release -DTALLY_WERROR=ON -DCMAKE_C_COMPILER=gcc >/dev/null
cmake --build build-test -j "$jobs"
(cd build-test && ctest --output-on-failure -j "$jobs")

echo "== public headers compile on their own"
for h in schema/status.h schema/schema.h store/store.h engine/fx.h engine/engine.h ledger/ledger.h \
    sim/sim.h cli/cli.h ops/ops.h client/client.h wire/wire.h httpd/httpd.h net/net.h auditor/audit.h tamper/tamper.h; do
    printf '#include "%s"\n' "$h" | gcc -std=c17 -Wall -Wextra -Werror -I. -fsyntax-only -x c -
done

if [ -d engine ]; then
    echo "== engine/ uses no floating point"
    if grep -rnE '\b(float|double)\b|#include *<math\.h>' engine; then
        echo "engine/ must not use floating point" >&2
        exit 1
    fi
fi

echo "== clang ASan+UBSan build (-Werror) and tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTALLY_SANITIZE=ON -DTALLY_WERROR=ON \
    -DCMAKE_C_COMPILER=clang -DTALLY_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j "$jobs")

echo "== determinism across builds: gcc -O0, gcc -O2, clang -O2, clang ASan+UBSan"
for v in "gcc -O0" "gcc -O2" "clang -O2"; do
    set -- $v
    cmake -S . -B "build-det-$1$2" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="$2" \
        -DCMAKE_C_COMPILER="$1" -DTALLY_WERROR=ON -DTALLY_BENCH=OFF >/dev/null
    cmake --build "build-det-$1$2" -j "$jobs" --target tally
done
ASAN_OPTIONS=detect_leaks=1 sh scripts/determinism.sh build-det-gcc-O2/tally build-det-gcc-O0/tally \
    build-det-clang-O2/tally build-asan/tally

echo "== libFuzzer: a short run of each target"
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DTALLY_FUZZ=ON -DCMAKE_C_COMPILER=clang \
    -DTALLY_BENCH=OFF >/dev/null
cmake --build build-fuzz -j "$jobs" --target fuzz_all
for f in build-fuzz/tests/fuzz/fuzz_*; do
    name=$(basename "$f")
    [ -x "$f" ] || continue
    case "$name" in *replay*) continue ;; esac
    corpus="tests/fuzz/corpus/${name#fuzz_}"
    work=$(mktemp -d)
    cp "$corpus"/* "$work"/ 2>/dev/null || true
    "$f" -max_total_time="${TALLY_FUZZ_SECONDS:-12}" -print_final_stats=0 "$work" 2>&1 | tail -n 2
    rm -rf "$work"
done
echo "all tests passed"
