#!/usr/bin/env bash
# Peak RSS of the analyst over a stored data directory: `smishtrap campaigns --data DIR` reads
# every stored message's campaign features (what `run` does at a restart) and runs one
# clustering pass. Give several binaries to compare them on the same store, alternated.
#
#   bench/analyst-memory.sh DATA-DIR BIN [BIN...]
#
# Make the store with e.g. `SMISHTRAP_IMPORT_DATA=/tmp/store1m bench/import-1m.sh 1000000`
# (`SMISHTRAP_INPUT=FILE` keeps the generated records for the example below).
# Prints, per binary: peak RSS, wall and CPU time.
#
# Stores of many millions take hours to import on a shared 2-core machine; the analyst's
# holding and one pass can be measured without one, on the same generated records:
#   cargo run --profile eval -p smishtrap-analyst --example held_memory -- FILE N DIR
# and bench/analyst-memory-10m.sh writes a store of 10,000,000 messages in minutes (analysed
# once per pool record, not per message) and measures `run` and `hub` over it.
set -euo pipefail
DIR="$1"
shift
[ -f "$DIR/smishtrap.db" ] || { echo "no store in $DIR" >&2; exit 1; }
echo "store: $(sqlite3 "$DIR/smishtrap.db" 'SELECT count(*) FROM messages') messages"
for BIN in "$@"; do
  /usr/bin/time -f "$BIN: peak RSS %M KiB, wall %e s, user %U s, sys %S s" \
    "$BIN" campaigns --format json --data "$DIR" > /dev/null
done
