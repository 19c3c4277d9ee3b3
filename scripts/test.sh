#!/usr/bin/env bash
# The whole test suite (what `npm test` and CI run):
#   1. type-check (tsc) and `deno check mod.ts`
#   2. build dist/vpnkit and smoke-test the binary
#   3. bun test (unit, golden, property/fuzz, namespace interop)
#   4. deno test (the library on Deno)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

echo "== type-check"
tsc --noEmit -p .
deno check mod.ts

echo "== build"
bun scripts/build.ts
./dist/vpnkit --version
./dist/vpnkit decode fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap > /dev/null

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "== bun test"
set +e
bun test --timeout 300000 test/ 2>&1 | tee "$log"
bun_rc=${PIPESTATUS[0]}
set -e
bp=$(grep -Eo '^ *[0-9]+ pass' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
bf=$(grep -Eo '^ *[0-9]+ fail' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
bs=$(grep -Eo '^ *[0-9]+ skip' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)

echo "== deno test"
set +e
NO_COLOR=1 deno test --allow-read --allow-env --allow-sys --allow-run --allow-write $(find test -name '*.deno.ts' | sort) 2>&1 | tee "$log"
deno_rc=${PIPESTATUS[0]}
set -e
dp=$(grep -Eo '[0-9]+ passed' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
df=$(grep -Eo '[0-9]+ failed' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)

echo
echo "tests: $((bp + dp)) passed, $((bf + df)) failed, $bs skipped"
[ "$bun_rc" -eq 0 ] && [ "$deno_rc" -eq 0 ]
