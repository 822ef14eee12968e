#!/usr/bin/env bash
# End-to-end throughput of `smishtrap analyze` (parse, analyse, serialise) on 1,000,000
# records made by mutating the shared dev corpora (codes, amounts, numbers, URL paths and
# hosts change per record, so no two texts repeat). Data goes to a temp dir, not the repo.
#
#   bench/analyze-1m.sh [RECORDS [ANALYZE-ARGS...]]   (default 1000000; needs python3, /usr/bin/time)
#   bench/analyze-1m.sh 1000000 --no-campaigns        (per-message pipeline only, no campaign pass)
#
# Prints messages/s and peak RSS. Run from the repository root; builds the release binary.
# SMISHTRAP_INPUT=FILE keeps the generated records in FILE and reuses them on later runs
# (same N), so repeated timings skip the generator and read the same bytes.
set -euo pipefail
N="${1:-1000000}"
shift || true
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${SMISHTRAP_DATA:-$ROOT/../shared/data}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# SMISHTRAP_BIN=path skips the build (e.g. to time an existing binary).
if [ -z "${SMISHTRAP_BIN:-}" ]; then
  cargo build --release -q -p smishtrap --manifest-path "$ROOT/Cargo.toml"
fi
BIN="${SMISHTRAP_BIN:-$ROOT/target/release/smishtrap}"

INPUT="${SMISHTRAP_INPUT:-$TMP/in.jsonl}"
if [ -s "$INPUT" ] && [ "$(wc -l < "$INPUT")" -eq "$N" ]; then
  echo "reusing $INPUT"
else
python3 - "$DATA" "$INPUT" "$N" <<'PY'
import csv, json, random, re, sys
data, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(20251124)
base = []
for line in open(f"{data}/smish-dev.jsonl", encoding="utf-8"):
    r = json.loads(line)
    base.append({k: r.get(k) for k in ("to", "from", "router_country", "direction", "status", "source", "text")})
for i, line in enumerate(open(f"{data}/uci-sms-spam-dev.tsv", encoding="utf-8").read().splitlines()[1:]):
    base.append({"text": line.split("\t", 1)[-1]})
for r in csv.DictReader(open(f"{data}/mishra-soni-smishing-dev.csv", encoding="utf-8")):
    base.append({"text": r["TEXT"]})
alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
words = ["veilig", "secure", "verifica", "konto", "login", "pay", "doc", "track", "id", "info"]
tlds = ["com", "info", "top", "net", "org", "xyz", "online", "be", "it", "se"]
def mutate(t):
    t = re.sub(r"\d", lambda m: rng.choice("0123456789"), t)
    t = re.sub(r"\b[A-Z0-9]{6,9}\b", lambda m: "".join(rng.choice(alnum) for _ in m.group(0)), t)
    t = re.sub(r"(https?://|www\.)?([a-z0-9-]+)\.(com|info|org|net|top|be|it|se)(/[A-Za-z0-9/]*)?",
               lambda m: f"{m.group(1) or ''}{m.group(2)}-{rng.choice(words)}.{rng.choice(tlds)}/{''.join(rng.choice(alnum) for _ in range(6))}", t)
    return t
with open(out, "w", encoding="utf-8") as f:
    for i in range(n):
        r = dict(rng.choice(base))
        r["id"] = f"b{i}"
        r["text"] = mutate(r["text"])
        if r.get("to"):
            r["to"] = re.sub(r"\d{4}$", lambda m: f"{rng.randrange(10000):04d}", r["to"])
        f.write(json.dumps({k: v for k, v in r.items() if v is not None}, ensure_ascii=False) + "\n")
PY
fi
SIZE=$(du -h "$INPUT" | cut -f1)
echo "input: $N records, $SIZE; analyze args: ${*:-(none)}"
START=$(date +%s.%N)
/usr/bin/time -v "$BIN" analyze --format jsonl "$@" "$INPUT" > "$TMP/out.jsonl" 2> "$TMP/time.txt" || { cat "$TMP/time.txt"; exit 1; }
END=$(date +%s.%N)
LINES=$(wc -l < "$TMP/out.jsonl")
python3 -c "import sys; n=int(sys.argv[1]); s=float(sys.argv[3])-float(sys.argv[2]); print(f'analyzed {n} records in {s:.2f} s: {n/s:,.0f} messages/s')" "$LINES" "$START" "$END"
grep -E "Maximum resident set size|Elapsed \(wall|Percent of CPU" "$TMP/time.txt"
