#!/usr/bin/env bash
# Runs each test file in its own `node --test` process, N at a time (default 4, as `npm test`),
# and prints per file: wall seconds, CPU seconds (user+sys of the file's process and everything it
# waited for: servers, Chromium), exit code; slowest first, then the totals. CPU does not depend on
# the machine's load the way wall time does.
#   bash bench/test-files.sh [N] [files...]     (default: every test/**/*.test.ts)
set -uo pipefail
cd "$(dirname "$0")/.."
n="${1:-4}"; shift || true
files=("$@"); [ ${#files[@]} -gt 0 ] || mapfile -t files < <(find test -name "*.test.ts" | sort)
# As `npm test`: the compiled copies (scripts/build-tests.mjs), named by their sources below.
node scripts/build-tests.mjs
out="$(mktemp -d)"
start=$(date +%s.%N)
printf '%s\n' "${files[@]}" | xargs -P "$n" -I{} sh -c \
  '/usr/bin/time -f "%e %U %S %x {}" -o "$1/$(echo {} | tr / _).time" node --enable-source-maps --test --test-timeout=180000 .test-build/$(echo {} | sed "s/\\.ts\$/.js/") >"$1/$(echo {} | tr / _).log" 2>&1' _ "$out"
end=$(date +%s.%N)
cat "$out"/*.time | grep -v '^Command' | awk '{ printf "%7.1f %7.1f %3s  %s\n", $1, $2 + $3, $4, $5 }' | sort -rn > "$out/table"
echo "  wall     cpu  rc  file"; cat "$out/table"
awk -v w="$(echo "$end - $start" | bc)" '{ c += $2; if ($3 != 0) f++ } END { printf "total: %.0f s wall, %.0f s CPU, %d files failed\n", w, c, f }' "$out/table"
echo "logs: $out"
