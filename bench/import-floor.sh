#!/usr/bin/env bash
# The least CPU an import of a store's messages can cost on this machine, part by part: what
# any import must do, each part measured alone at its cheapest (sqlite3's shell, one
# statement over all rows, no per-row binding, no durable batches), against the budget of
# a rate (2 cores at 50,000 messages/s: 40 CPU-s per million).
#
#   bench/import-floor.sh DATA-DIR [RECORDS-FILE]   (needs sqlite3, python3, /usr/bin/time)
#
# DATA-DIR is a store an import filled (e.g. `SMISHTRAP_IMPORT_DATA=DIR bench/import-1m.sh`);
# it is only read. With RECORDS-FILE (the records it was imported from), the analysis alone
# (`analyze --no-campaigns`, SMISHTRAP_BIN or the eval build) and the clustering pass (an
# import with it minus one without it) are measured too.
# Prints CPU seconds per part and their sum.
set -euo pipefail
DATA="${1:?usage: bench/import-floor.sh DATA-DIR [RECORDS-FILE]}"
RECORDS="${2:-}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${SMISHTRAP_BIN:-$ROOT/target/eval/smishtrap}"
SRC="$(cd "$DATA" && pwd)/smishtrap.db"
[ -s "$SRC" ] || { echo "no store at $SRC" >&2; exit 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
N=$(sqlite3 "file:$SRC?mode=ro" "SELECT count(*) FROM messages")
echo "store: $SRC ($N messages)"

# one part: its SQL run by sqlite3 on the scratch copy; prints and keeps user+sys seconds
part() {
  local name="$1" sql="$2"
  /usr/bin/time -f "%U %S" -o "$TMP/t" sqlite3 "$TMP/floor.db" "$sql" > /dev/null
  python3 -c "import sys; u,s=map(float,open(sys.argv[1]).read().split()[-2:]); print(f'{sys.argv[2]:<40} {u+s:6.1f} CPU-s'); open(sys.argv[3],'a').write(f'{u+s}\n')" "$TMP/t" "$name" "$TMP/sum"
}

# the message table as the store defines it (its own DDL, read from the store)
sqlite3 "$TMP/floor.db" "PRAGMA page_size=4096; PRAGMA journal_mode=WAL;" > /dev/null
sqlite3 "file:$SRC?mode=ro" "SELECT sql || ';' FROM sqlite_schema WHERE name IN ('messages', 'messages_text')" > "$TMP/ddl.sql"
sqlite3 "$TMP/floor.db" < "$TMP/ddl.sql"
PRAGMAS="PRAGMA synchronous=OFF; PRAGMA cache_size=-262144;"
part "message rows and the id index" "$PRAGMAS ATTACH '$SRC' AS src; INSERT INTO messages SELECT * FROM src.messages ORDER BY seq;"
part "trigram text index" "$PRAGMAS INSERT INTO messages_text (messages_text, rank) VALUES ('automerge', 16); INSERT INTO messages_text (rowid, text) SELECT seq, text FROM messages;"
INDEXES=$(sqlite3 "file:$SRC?mode=ro" "SELECT group_concat(sql, '; ') FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'messages' AND sql IS NOT NULL")
part "secondary indexes of messages" "$PRAGMAS $INDEXES;"

if [ -n "$RECORDS" ]; then
  /usr/bin/time -f "%U %S" -o "$TMP/t" "$BIN" analyze --format jsonl --no-campaigns "$RECORDS" > /dev/null
  python3 -c "import sys; u,s=map(float,open(sys.argv[1]).read().split()[-2:]); print(f'{\"analysis (analyze --no-campaigns)\":<40} {u+s:6.1f} CPU-s'); open(sys.argv[2],'a').write(f'{u+s}\n')" "$TMP/t" "$TMP/sum"
  # the clustering pass: an import of the same records with and without it, the difference
  # (both into fresh stores; same binary)
  for mode in with without; do
    args=(); [ "$mode" = without ] && args=(--no-cluster)
    /usr/bin/time -f "%U %S" -o "$TMP/t-$mode" "$BIN" import --data "$TMP/data-$mode" "${args[@]}" "$RECORDS" > /dev/null 2>&1
    rm -rf "$TMP/data-$mode"
  done
  python3 -c "import sys; c=lambda p: sum(map(float,open(p).read().split()[-2:])); d=c(sys.argv[1])-c(sys.argv[2]); print(f'{\"clustering (import minus --no-cluster)\":<40} {d:6.1f} CPU-s'); open(sys.argv[3],'a').write(f'{d}\n')" "$TMP/t-with" "$TMP/t-without" "$TMP/sum"
fi
python3 -c "import sys; t=sum(float(x) for x in open(sys.argv[1])); n=int(sys.argv[2]); print(f'sum {t:.1f} CPU-s = {t*1e6/n:.1f} CPU-s per million; 50,000 messages/s on 2 cores allows 40.0')" "$TMP/sum" "$N"
