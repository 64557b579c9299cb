#!/usr/bin/env bash
# One caller far past its read limit next to another caller: the other's
# latency alone, then beside the noisy one, with the limits per caller on and
# off. Not part of `make bench` yet; figures in docs/configuration.md.
#
#   bench/noisy_neighbour.sh BUILD_DIR
#
# A people service (SQLite in a temp dir, no Redis, no call logs) with the
# example roster. The victim (its own token) calls GetPerson open-loop at
# 200 calls/s (h2load --rps, 2 connections); the noisy caller (another token)
# calls NOISY_METHOD (ListPeople: a worker and SQLite per call) open-loop at
# NOISY calls/s (10,000: ten times the limit of 1,000/s) from 8 connections.
# For LIMIT in 1000 and 0 (off), ROUNDS rounds of: victim alone, then victim
# beside the noisy caller, D seconds each; the victim's p50/p99/max from
# h2load's per-request log.
set -euo pipefail

BUILD=$(cd "${1:?usage: bench/noisy_neighbour.sh BUILD_DIR}" && pwd)
REPO=$(cd "$(dirname "$0")/.." && pwd)
D=${D:-12}
ROUNDS=${ROUNDS:-2}
NOISY=${NOISY:-10000}
NOISY_METHOD=${NOISY_METHOD:-ListPeople}
CLI=$BUILD/tools/cli/sightline
PREP=$BUILD/bench/sightline-bench-prep
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sightline-noisy-XXXXXX")
PID=
cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

openssl rand -hex 32 >"$WORK/jwt.secret"
token() { "$CLI" token --key_file="$WORK/jwt.secret" --subject="$1" --roles="$2" --ttl=1h; }
printf '\0\0\0\0\0' >"$WORK/empty.bin"  # a framed empty request

run() {  # LIMIT
  local limit=$1 ports port metrics
  mapfile -t ports < <("$PREP" ports 2)
  port=${ports[0]}
  metrics=${ports[1]}
  rm -f "$WORK/people.db"*
  "$BUILD/services/people/sightline-people" --grpc_address="127.0.0.1:$port" \
    --metrics_address="127.0.0.1:$metrics" --db="$WORK/people.db" \
    --jwt_key_file="$WORK/jwt.secret" --log_calls=false \
    --caller_read_rate="$limit" --caller_read_burst="$limit" >"$WORK/people.log" 2>&1 &
  PID=$!
  "$PREP" wait "127.0.0.1:$port" >/dev/null
  SIGHTLINE_TOKEN=$(token hr@example.com hr_admin) \
    "$CLI" import-roster "127.0.0.1:$port" "$REPO/examples/roster.csv" >/dev/null
  local victim noisy
  victim=$(token victim@example.com employee)
  noisy=$(token noisy@example.com employee)
  "$PREP" person-body --target="127.0.0.1:$port" --token="$victim" \
    --external_id=E1002 --out="$WORK/person.bin" >/dev/null
  local base=http://127.0.0.1:$port/sightline.people.v1.PeopleService
  local grpc=(-H 'content-type: application/grpc' -H 'te: trailers')
  local noisy_body=$WORK/empty.bin
  [ "$NOISY_METHOD" = GetPerson ] && noisy_body=$WORK/person.bin
  for ((r = 1; r <= ROUNDS; r++)); do
    for beside in no yes; do
      local npid=
      if [ "$beside" = yes ]; then
        h2load -c 8 -m 16 -t 1 --rps=$((NOISY / 8)) -D $((D + 2)) "${grpc[@]}" \
          -H "authorization: Bearer $noisy" -d "$noisy_body" \
          "$base/$NOISY_METHOD" >"$WORK/noisy.out" 2>&1 &
        npid=$!
        sleep 1
      fi
      rm -f "$WORK/victim.log"  # h2load appends to its log
      h2load -c 2 -m 1 -t 1 --rps=100 -D "$D" "${grpc[@]}" \
        -H "authorization: Bearer $victim" -d "$WORK/person.bin" \
        --log-file="$WORK/victim.log" "$base/GetPerson" >"$WORK/victim.out" 2>&1
      [ -n "$npid" ] && wait "$npid"
      local noisy_rate=-
      [ -n "$npid" ] && noisy_rate=$(awk '/^finished in/ {print $4}' "$WORK/noisy.out")
      python3 - "$WORK/victim.log" "$limit" "$r" "$beside" "$noisy_rate" <<'PY'
import sys
lat = sorted(int(l.split("\t")[2]) for l in open(sys.argv[1]) if l.strip())
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] / 1000
print(f"limit={sys.argv[2]} round={sys.argv[3]} noisy_beside={sys.argv[4]} "
      f"noisy_served_or_refused_per_s={sys.argv[5]} victim_calls={len(lat)} "
      f"p50_ms={q(0.5):.2f} p99_ms={q(0.99):.2f} max_ms={lat[-1] / 1000:.2f}")
PY
    done
  done
  curl -s "http://127.0.0.1:$metrics/metrics" |
    grep -E '^sightline_caller_limit_refused_total\{.*method_class="read",reason="rate"' || true
  kill -TERM "$PID"
  wait "$PID" || true
  PID=
}

for limit in 1000 0; do run "$limit"; done
