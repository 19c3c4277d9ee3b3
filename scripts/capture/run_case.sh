#!/bin/bash
# run_case.sh NAME [NAME...] : run scripts/capture/cases/NAME.sh (needs root),
# each bounded to 5 minutes. The fixture lands in ${CAP_ROOT:-fixtures/made}/NAME.
S=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rc=0
for n in "$@"; do
	f=$S/cases/$n.sh
	[ -f "$f" ] || { echo "no such case: $n (see $S/cases/)"; rc=1; continue; }
	timeout -s TERM 300 bash "$f" || { echo "case $n failed: $?"; rc=1; }
done
exit $rc
