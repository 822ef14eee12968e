#!/usr/bin/env bash
# Peak RSS of the analyst over a stored data directory: `smishtrap campaigns --data DIR` reads
# every stored message's campaign features (what `run` does at a restart) and runs one
# clustering pass. Give several binaries to compare them on the same store, alternated.
#
#   bench/analyst-memory.sh DATA-DIR BIN [BIN...]
#
# Make the store with e.g. `SMISHTRAP_IMPORT_DATA=/tmp/store1m bench/import-1m.sh 1000000`.
# Prints, per binary: peak RSS, wall and CPU time.
set -euo pipefail
DIR="$1"
shift
[ -f "$DIR/smishtrap.db" ] || { echo "no store in $DIR" >&2; exit 1; }
echo "store: $(sqlite3 "$DIR/smishtrap.db" 'SELECT count(*) FROM messages') messages"
for BIN in "$@"; do
  /usr/bin/time -f "$BIN: peak RSS %M KiB, wall %e s, user %U s, sys %S s" \
    "$BIN" campaigns --format json --data "$DIR" > /dev/null
done
