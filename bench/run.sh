#!/usr/bin/env bash
# make bench: every figure the README quotes, measured in one run on this
# machine, each next to a baseline measured in the same run.
#
#   bench/run.sh BUILD_DIR
#
# Starts on free loopback ports: redis-server (no persistence), the people
# service as deployed (SQLite in a temp dir, Redis cache, one JSON log line per
# RPC, written to a file), a second people process with --log_calls=false on
# the same database (to show what logging costs), a third with
# --local_cache_entries=0 (every read goes to Redis, or SQLite once Redis is
# stopped), and the bare-gRPC echo server (bench/echo). Then:
#
#   1. bench/sync: a FULL SyncPeople of 100,000 generated people, the same
#      roster again unchanged, the service's resident memory afterwards; for
#      context, raw SQLite inserts of the same rows and the same messages
#      streamed over bare gRPC to the echo server;
#   2. h2load, with the same connections, concurrency and duration for all:
#      the echo RPC, GetPerson with a warm cache, GetPerson without call logs,
#      GetPerson without the in-process cache (from Redis), and, after Redis is
#      stopped, GetPerson again on both; ROUNDS interleaved rounds,
#      best round kept, so that a burst of other work on the machine does not
#      decide a ratio. Each run also reports the server's CPU time per call
#      (/proc/PID/stat), which such bursts disturb much less. A call counts
#      only when proven: h2load's data bytes must hold one framed answer per
#      counted call, and for the people service its /metrics counter
#      grpc_server_handled_total{grpc_code="OK"} must have grown by at least as
#      much, with no error codes beyond the calls h2load cut off when it
#      stopped (CANCELLED, and gRPC 1.51 counts a call cut off before its
#      request arrived as UNIMPLEMENTED). The cache counters must show a hit
#      (in process memory or in Redis) for every warm call, and no Redis hit
#      once Redis is stopped;
#   3. goals and feedback on a generated company (see their sections);
#   4. the metrics service as deployed (SQLite, durable) on the company's
#      people service: WriteDataPoints ingestion of BENCH_METRICS_POINTS
#      points against raw batched SQLite inserts of the same rows, QueryKpi
#      over a million points of one KPI, and GetKpiStatus (warm) with h2load
#      against the echo RPC, verified like GetPerson.
#
#   5. scorecards: an org of BENCH_SCORECARD_PEOPLE people in
#      BENCH_SCORECARD_TEAMS teams (2,000 in 10: teams of 200) in a people
#      service of its own, and goals, feedback and metrics as deployed (SQLite,
#      durable) on fresh databases; bench/scorecard seeds two goals, a CUSTOMER
#      feedback and a KPI per member of the team T000001 and a KPI of the team,
#      then the metrics service is restarted and GetScorecard of that team is
#      called by its lead: the first call (cold) and BENCH_SCORECARD_RUNS more,
#      one after another (warm, p50). Every answer must be complete.
#
#   6. kpi-follow: how soon a key result follows its KPI. A metrics service
#      and a goals service started with --metrics_service_address pointing at
#      it, both as deployed (default flags, SQLite, durable) on fresh
#      databases in the temp dir, with the company's people service: the
#      goals part's service runs on a large generated database whose
#      figures are its own, and a fresh one keeps this figure apart from the
#      database's size and from the other parts' load. bench/goals kpi-follow
#      creates BENCH_KPI_FOLLOW_KPIS KPIs, each linked by the key results of
#      BENCH_KPI_FOLLOW_LINKS goals of as many people, then writes one point
#      per BatchWriteDataPoints call at BENCH_KPI_FOLLOW_RATE points/s for
#      BENCH_KPI_FOLLOW_SECONDS s (open loop), each a new value of its KPI.
#      A point's latency runs from the write's answer (the commit) until
#      every linked key result has shown the value on the goals service's
#      WatchGoals stream (a stream, not polling, so that the figure holds no
#      polling delay of the bench's own). A point that never reaches its key
#      results within BENCH_KPI_FOLLOW_SETTLE s fails the step. Then the same
#      with new KPIs whose points are written to a second metrics process on
#      the same database (another replica): the goals service's feed sees
#      them only when its replica polls the database (--change_poll_interval,
#      200 ms as deployed).
#
#   7. pg: the production path, on a PostgreSQL 15 the bench starts on
#      loopback in a temp dir, configured with deploy/postgresql/sightline.conf
#      (the README's operator settings: durable commits, group commit, large
#      WAL). First PostgreSQL's own ceiling: pgbench with a script of one
#      durable single-row INSERT per transaction, BENCH_PG_CLIENTS clients
#      (32), -j 2, prepared statements, BENCH_PG_SECONDS. Then a people service
#      on it (BENCH_PG_PEOPLE people synced), a goals database of BENCH_PG_GOALS
#      goals written by bench/goals_load, and the goals and feedback services
#      on their own databases there: CreateCheckIn and CreateFeedback with
#      BENCH_PG_CLIENTS calls in flight against one replica of each, CreateCheckIn
#      at BENCH_CHECKIN_RATE/s (500, open loop) on that one replica, then the same with
#      three replicas of each (same database, one shared --token_key_file),
#      the calls spread over the replicas. Every failed call is counted by
#      status code (ABORTED must be 0). CPU per call for each side over each
#      measured window: the replicas' user+system time (/proc/PID/stat), and
#      PostgreSQL's: the postmaster's own and its reaped children's times plus
#      those of its live children (backends, WAL writer, checkpointer...).
#      Per call as well: statements and their execution time
#      (pg_stat_statements), transactions committed and rolled back
#      (pg_stat_database).
#
# Before the table it prints the machine: CPU model, cores, the echo rate and
# the disk's durable-commit p50/p99 (bench/goals commits), so that two runs
# can be compared; every target row says whether the target held.
#
# Every process is stopped by its pid; the temp dir is removed (BENCH_KEEP=1
# keeps it). Exits non-zero when a measure could not be taken or verified;
# with BENCH_STRICT=1 also when a target is missed.
#
# Knobs (environment): BENCH_CLIENTS (connections, 8), BENCH_STREAMS (calls in
# flight per connection, 16), BENCH_SECONDS (per measured run, 6),
# BENCH_WARMUP (seconds, 2), BENCH_ROUNDS (3), BENCH_PEOPLE (100000),
# BENCH_METRICS_POINTS (1000000), BENCH_METRICS_BATCH (points per write call,
# 50000), BENCH_METRICS_INFLIGHT (write calls in flight, 4),
# BENCH_METRICS_KPIS (4), BENCH_METRICS_QUERY_POINTS (1000000).
# BENCH_SCORECARD_PEOPLE (2000), BENCH_SCORECARD_TEAMS (10),
# BENCH_SCORECARD_RUNS (50). BENCH_KPI_FOLLOW_RATE (points/s, 100),
# BENCH_KPI_FOLLOW_SECONDS (20), BENCH_KPI_FOLLOW_KPIS (20),
# BENCH_KPI_FOLLOW_LINKS (key results per KPI, 3), BENCH_KPI_FOLLOW_SETTLE (30).
# BENCH_PG_CLIENTS (calls in flight, 32), BENCH_PG_SECONDS (per measured run,
# 8), BENCH_PG_PEOPLE (2000), BENCH_PG_GOALS (2000), BENCH_PG_DB_POOL
# (--db_pool_size of the goals and feedback replicas; the default: theirs).
# BENCH_ONLY: a comma-separated subset of
# people,goals,feedback,metrics,scorecard,kpi-follow,pg
# (default: all; feedback brings goals with it), e.g. BENCH_ONLY=metrics.
# The echo baseline and the disk's commit baseline are always measured.
# BENCH_COLD=1 (root only) drops the kernel's page cache after the goals
# database is generated, so the goals service starts on a database that is
# not in memory, as on a machine that has reclaimed it (see docs/benchmarks.md).

set -euo pipefail

BUILD=${1:?usage: bench/run.sh BUILD_DIR}
# One token drives each load below, far past what one caller may do in
# production. The limits per caller stay on, so that their cost is measured,
# but far out of reach.
export SIGHTLINE_CALLER_READ_RATE=1e9 SIGHTLINE_CALLER_READ_BURST=1e9 \
  SIGHTLINE_CALLER_WRITE_RATE=1e9 SIGHTLINE_CALLER_WRITE_BURST=1e9 \
  SIGHTLINE_CALLER_SYNC_RATE=1e9 SIGHTLINE_CALLER_SYNC_BURST=1e9 \
  SIGHTLINE_CALLER_MAX_CONCURRENT_CALLS=1000000000 SIGHTLINE_CALLER_MAX_OPEN_STREAMS=1000000000
BUILD=$(cd "$BUILD" && pwd)
CLIENTS=${BENCH_CLIENTS:-8}
STREAMS=${BENCH_STREAMS:-16}
DURATION=${BENCH_SECONDS:-6}
WARMUP=${BENCH_WARMUP:-2}
ROUNDS=${BENCH_ROUNDS:-3}
PEOPLE=${BENCH_PEOPLE:-100000}
ORG_PEOPLE=${BENCH_ORG_PEOPLE:-10000}
GOALS=${BENCH_GOALS:-50000}
CHECKINS=${BENCH_CHECKINS:-500000}
CHECKIN_RATE=${BENCH_CHECKIN_RATE:-500}
CHECKIN_SECONDS=${BENCH_CHECKIN_SECONDS:-20}
FEEDBACK_THREADS=${BENCH_FEEDBACK_THREADS:-64}
FEEDBACK_ENTRIES=${BENCH_FEEDBACK_ENTRIES:-10000}
METRICS_POINTS=${BENCH_METRICS_POINTS:-1000000}
METRICS_BATCH=${BENCH_METRICS_BATCH:-50000}
METRICS_INFLIGHT=${BENCH_METRICS_INFLIGHT:-4}
METRICS_KPIS=${BENCH_METRICS_KPIS:-4}
METRICS_QUERY_POINTS=${BENCH_METRICS_QUERY_POINTS:-1000000}
SC_PEOPLE=${BENCH_SCORECARD_PEOPLE:-2000}
SC_TEAMS=${BENCH_SCORECARD_TEAMS:-10}
SC_RUNS=${BENCH_SCORECARD_RUNS:-50}
KF_RATE=${BENCH_KPI_FOLLOW_RATE:-100}
KF_SECONDS=${BENCH_KPI_FOLLOW_SECONDS:-20}
KF_KPIS=${BENCH_KPI_FOLLOW_KPIS:-20}
KF_LINKS=${BENCH_KPI_FOLLOW_LINKS:-3}
KF_SETTLE=${BENCH_KPI_FOLLOW_SETTLE:-30}
PG_CLIENTS=${BENCH_PG_CLIENTS:-32}
PG_SECONDS=${BENCH_PG_SECONDS:-8}
PG_PEOPLE=${BENCH_PG_PEOPLE:-2000}
PG_GOALS=${BENCH_PG_GOALS:-2000}
PG_POOL=${BENCH_PG_DB_POOL:-}  # empty: the services' default --db_pool_size
PG_BIN=/usr/lib/postgresql/15/bin

ONLY=${BENCH_ONLY:-people,goals,feedback,metrics,scorecard,kpi-follow,pg}
for part in ${ONLY//,/ }; do
  case $part in
    people | goals | feedback | metrics | scorecard | kpi-follow | pg) ;;
    *) echo "bench: BENCH_ONLY: unknown part '$part' (people, goals, feedback, metrics, scorecard, kpi-follow, pg)" >&2; exit 2 ;;
  esac
done
# want PART: whether this run measures PART.
want() {
  case ",$ONLY," in
    *",$1,"*) return 0 ;;
    *",feedback,"*) [ "$1" = goals ] ;;  # feedback runs on the goals bench's org
    *) return 1 ;;
  esac
}

PEOPLE_BIN=$BUILD/services/people/sightline-people
CLI=$BUILD/tools/cli/sightline
ECHO_BIN=$BUILD/bench/sightline-bench-echo
SYNC_BIN=$BUILD/bench/sightline-bench-sync
PREP=$BUILD/bench/sightline-bench-prep
GOALS_BIN=$BUILD/services/goals/sightline-goals
GOALS_LOAD=$BUILD/bench/sightline-bench-goals-load
GOALS_BENCH=$BUILD/bench/sightline-bench-goals
FEEDBACK_BIN=$BUILD/services/feedback/sightline-feedback
FEEDBACK_BENCH=$BUILD/bench/sightline-bench-feedback
METRICS_BIN=$BUILD/services/metrics/sightline-metrics
METRICS_BENCH=$BUILD/bench/sightline-bench-metrics
needed=("$PEOPLE_BIN" "$CLI" "$ECHO_BIN" "$SYNC_BIN" "$PREP" "$GOALS_BENCH")
want goals && needed+=("$GOALS_BIN" "$GOALS_LOAD")
want feedback && needed+=("$FEEDBACK_BIN" "$FEEDBACK_BENCH")
want metrics && needed+=("$METRICS_BIN" "$METRICS_BENCH")
SCORECARD_BENCH=$BUILD/bench/sightline-bench-scorecard
want scorecard && needed+=("$GOALS_BIN" "$FEEDBACK_BIN" "$METRICS_BIN" "$SCORECARD_BENCH")
want kpi-follow && needed+=("$GOALS_BIN" "$METRICS_BIN")
want pg && needed+=("$GOALS_BIN" "$GOALS_LOAD" "$FEEDBACK_BIN" "$FEEDBACK_BENCH"
  "$PG_BIN/initdb" "$PG_BIN/postgres" "$PG_BIN/pgbench" "$PG_BIN/psql")
for b in "${needed[@]}"; do
  [ -x "$b" ] || { echo "bench: missing $b (build first: make build)" >&2; exit 1; }
done
for t in h2load redis-server redis-cli redis-benchmark curl openssl; do
  command -v "$t" >/dev/null || { echo "bench: $t not found (scripts/install-deps.sh)" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sightline-bench-XXXXXX")
declare -a PIDS=()
FAILED=0

log() { echo "bench: $*"; }
err() { echo "bench: $*" >&2; }

# SIGTERM, then SIGKILL after $2 seconds; only ever our own children.
stop_pid() {
  local pid=$1 grace=${2:-30} i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? i
  [ "$rc" = 0 ] || FAILED=1
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$FAILED" != 0 ]; then
    err "logs kept in $WORK${PG_DIR:+ and $PG_DIR (PostgreSQL)}"
  else
    rm -rf "$WORK"
    [ -z "${PG_DIR:-}" ] || rm -rf "$PG_DIR"
  fi
}
trap cleanup EXIT
trap 'FAILED=1; exit 130' INT TERM

# value KEY FILE: the value of a key=value line.
value() { [ -f "$2" ] || return 0; sed -n "s/^$1=//p" "$2" | head -1; }

mapfile -t PORTS < <("$PREP" ports 45)
REDIS_PORT=${PORTS[0]}
PEOPLE_PORT=${PORTS[1]}
PEOPLE_METRICS=${PORTS[2]}
NOLOG_PORT=${PORTS[3]}
NOLOG_METRICS=${PORTS[4]}
ECHO_PORT=${PORTS[5]}
NOLOCAL_PORT=${PORTS[6]}
NOLOCAL_METRICS=${PORTS[7]}
ORG_PORT=${PORTS[8]}
ORG_METRICS=${PORTS[9]}
GOALS_PORT=${PORTS[10]}
GOALS_METRICS=${PORTS[11]}
FEEDBACK_PORT=${PORTS[12]}
FEEDBACK_METRICS=${PORTS[13]}
METRICS_PORT=${PORTS[14]}
METRICS_METRICS=${PORTS[15]}
SC_ORG_PORT=${PORTS[16]}
SC_ORG_METRICS=${PORTS[17]}
SC_GOALS_PORT=${PORTS[18]}
SC_GOALS_METRICS=${PORTS[19]}
SC_FEEDBACK_PORT=${PORTS[20]}
SC_FEEDBACK_METRICS=${PORTS[21]}
SC_METRICS_PORT=${PORTS[22]}
SC_METRICS_METRICS=${PORTS[23]}
KF_METRICS_PORT=${PORTS[24]}
KF_METRICS_METRICS=${PORTS[25]}
KF_GOALS_PORT=${PORTS[26]}
KF_GOALS_METRICS=${PORTS[27]}
KF_REPLICA_PORT=${PORTS[28]}
KF_REPLICA_METRICS=${PORTS[29]}
PG_PORT=${PORTS[30]}
PG_PEOPLE_PORT=${PORTS[31]}
PG_PEOPLE_METRICS=${PORTS[32]}
# Replica i (0, 1, 2) of goals and of feedback: gRPC and /metrics ports.
PG_GOALS_PORTS=("${PORTS[33]}" "${PORTS[34]}" "${PORTS[35]}")
PG_GOALS_METRICS=("${PORTS[36]}" "${PORTS[37]}" "${PORTS[38]}")
PG_FB_PORTS=("${PORTS[39]}" "${PORTS[40]}" "${PORTS[41]}")
PG_FB_METRICS=("${PORTS[42]}" "${PORTS[43]}" "${PORTS[44]}")

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# --- servers -----------------------------------------------------------------
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$WORK" --daemonize no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
REDIS_LIVE=$REDIS_PID
PIDS+=("$REDIS_PID")
for ((i = 0; i < 100; i++)); do
  [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && break
  sleep 0.1
done
[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] ||
  { FAILED=1; err "redis-server did not start"; exit 1; }

openssl rand -hex 32 >"$WORK/jwt.secret"
people_args=(--db="$WORK/people.db" --redis="redis://127.0.0.1:$REDIS_PORT"
  --jwt_key_file="$WORK/jwt.secret")
"$ECHO_BIN" --address="127.0.0.1:$ECHO_PORT" >"$WORK/echo.log" 2>&1 &
ECHO_PID=$!
PIDS+=("$ECHO_PID")
"$PREP" wait "127.0.0.1:$ECHO_PORT" || { FAILED=1; err "echo server did not start"; exit 1; }
TOKEN=$("$CLI" token --key_file="$WORK/jwt.secret" --subject=bench-reader@example.com \
  --roles=employee --ttl=2h)
"$PREP" echo-body --out="$WORK/echo.bin" >"$WORK/echo-body.out"
ECHO_FRAME=$(value response_frame_bytes "$WORK/echo-body.out")

INFLIGHT=$((CLIENTS * STREAMS))
H2=(h2load -c "$CLIENTS" -m "$STREAMS" -t 1
  -H 'content-type: application/grpc' -H 'te: trailers')

# handled PORT METHOD: "code count" per grpc_code of the method's counter.
handled() {
  curl -s "http://127.0.0.1:$1/metrics" | awk -v m="grpc_method=\"$2\"" '
    /^grpc_server_handled_total[{]/ && index($0, m) {
      match($0, /grpc_code="[^"]*"/)
      print substr($0, RSTART + 11, RLENGTH - 12), $NF
    }'
}

CLK_TCK=$(getconf CLK_TCK)
# cpu PID: user + system CPU ticks the process has used so far.
cpu() {
  [ -n "$1" ] || { echo 0; return 0; }
  awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}

# cache_reads PORT: "result count" of the $CACHE_NS cache's reads in Redis,
# and "local-result count" of those in process memory.
CACHE_NS=people
cache_reads() {
  curl -s "http://127.0.0.1:$1/metrics" | awk -v ns="cache=\"$CACHE_NS\"" \
    -v local_ns="cache=\"$CACHE_NS-local\"" '
    /^sightline_cache_requests_total[{]/ && index($0, ns) {
      match($0, /result="[^"]*"/)
      print substr($0, RSTART + 8, RLENGTH - 9), $NF
    }
    /^sightline_cache_requests_total[{]/ && index($0, local_ns) {
      match($0, /result="[^"]*"/)
      print "local-" substr($0, RSTART + 8, RLENGTH - 9), $NF
    }'
}

# wait_log FILE TEXT: until the log holds TEXT (60 s at most).
wait_log() {
  local i
  for ((i = 0; i < 600; i++)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# delta BEFORE AFTER: "key after-before" for every key of AFTER.
delta() {
  join -a2 -e 0 -o 0,1.2,2.2 <(sort "$1") <(sort "$2") | awk '{print $1, $3 - $2}'
}

if want people; then
"$PEOPLE_BIN" --grpc_address="127.0.0.1:$PEOPLE_PORT" \
  --metrics_address="127.0.0.1:$PEOPLE_METRICS" "${people_args[@]}" \
  >"$WORK/people.log" 2>&1 &
PEOPLE_PID=$!
PIDS+=("$PEOPLE_PID")
"$PREP" wait "127.0.0.1:$PEOPLE_PORT" || { FAILED=1; err "people service did not start"; exit 1; }

# --- sync --------------------------------------------------------------------
log "sync: FULL of $PEOPLE people, then unchanged re-sync"
"$SYNC_BIN" --target="127.0.0.1:$PEOPLE_PORT" --jwt_key_file="$WORK/jwt.secret" \
  --people="$PEOPLE" --pid="$PEOPLE_PID" --sqlite_baseline_db="$WORK/baseline" \
  --sink_target="127.0.0.1:$ECHO_PORT" \
  >"$WORK/sync.out" 2>"$WORK/sync.err" ||
  { FAILED=1; err "sync benchmark failed:"; cat "$WORK/sync.err" >&2; exit 1; }
METRICS_RSS=$(curl -s "http://127.0.0.1:$PEOPLE_METRICS/metrics" |
  awk '$1 == "process_resident_memory_bytes" {printf "%.0f", $2}')

# The second people process only now, so that it takes no part in the sync.
"$PEOPLE_BIN" --grpc_address="127.0.0.1:$NOLOG_PORT" \
  --metrics_address="127.0.0.1:$NOLOG_METRICS" --log_calls=false \
  "${people_args[@]}" >"$WORK/people-nolog.log" 2>&1 &
NOLOG_PID=$!
PIDS+=("$NOLOG_PID")
"$PREP" wait "127.0.0.1:$NOLOG_PORT" || { FAILED=1; err "no-log people did not start"; exit 1; }
# A third, without the in-process cache: every read goes to Redis (then SQLite).
"$PEOPLE_BIN" --grpc_address="127.0.0.1:$NOLOCAL_PORT" \
  --metrics_address="127.0.0.1:$NOLOCAL_METRICS" --local_cache_entries=0 \
  "${people_args[@]}" >"$WORK/people-nolocal.log" 2>&1 &
NOLOCAL_PID=$!
PIDS+=("$NOLOCAL_PID")
"$PREP" wait "127.0.0.1:$NOLOCAL_PORT" || { FAILED=1; err "no-local people did not start"; exit 1; }

# --- load --------------------------------------------------------------------
PERSON_EXT=$(printf 'E%06d' $((PEOPLE / 2 + 1)))
"$PREP" person-body --target="127.0.0.1:$PEOPLE_PORT" --token="$TOKEN" \
  --external_id="$PERSON_EXT" --out="$WORK/person.bin" >"$WORK/person-body.out"
PERSON_FRAME=$(value response_frame_bytes "$WORK/person-body.out")
fi  # people (servers and sync)

# measure NAME ROUND URL BODY FRAME_BYTES PID [METRICS_PORT METHOD CACHE]
# CACHE: "hit" when every call must be a cache hit, "down" when none may be.
# Leaves NAME.ROUND.result: calls_per_s p50_ms p99_ms mean_ms cpu_us_per_call
# (the server's CPU time per verified call: less sensitive than calls/s to
# other work on the machine).
measure() {
  local name=$1 round=$2 url=$3 body=$4 frame=$5 pid=$6 mport=${7:-} method=${8:-}
  local expect=${9:-}
  local base="$WORK/$name.$round" auth=()
  [ -n "$mport" ] && auth=(-H "authorization: Bearer $TOKEN")
  "${H2[@]}" "${auth[@]}" -D "$WARMUP" -d "$body" "$url" >"$base.warmup" 2>&1 || true
  sleep 0.5  # lets the server count the calls the warm-up cut off
  if [ -n "$mport" ]; then
    handled "$mport" "$method" >"$base.before"
    cache_reads "$mport" >"$base.cache-before"
  fi
  rm -f "$base.h2log"
  local cpu0 cpu1 rcpu0 rcpu1
  cpu0=$(cpu "$pid")
  rcpu0=$(cpu "$REDIS_LIVE")
  "${H2[@]}" "${auth[@]}" -D "$DURATION" --log-file="$base.h2log" -d "$body" "$url" \
    >"$base.h2" 2>&1 || true
  cpu1=$(cpu "$pid")
  rcpu1=$(cpu "$REDIS_LIVE")
  sleep 0.5
  if [ -n "$mport" ]; then
    handled "$mport" "$method" >"$base.after"
    cache_reads "$mport" >"$base.cache-after"
  fi

  local secs succeeded failed errored timeouts ok2xx data
  secs=$(awk '/^finished in/ {sub(/s,$/, "", $3); print $3}' "$base.h2")
  read -r succeeded failed errored timeouts < <(awk '/^requests:/ {
    for (i = 1; i <= NF; i++) {
      if ($(i+1) ~ /^succeeded/) s = $i; if ($(i+1) ~ /^failed/) f = $i
      if ($(i+1) ~ /^errored/) e = $i; if ($(i+1) ~ /^timeout/) t = $i
    }
    print s, f, e, t }' "$base.h2")
  ok2xx=$(awk '/^status codes:/ {print $3}' "$base.h2")
  data=$(awk '/^traffic:/ {for (i = 1; i <= NF; i++) if ($i == "data") {
    v = $(i-1); gsub(/[()]/, "", v); print v }}' "$base.h2")
  local why=""
  if [ -z "$secs" ] || [ -z "$succeeded" ] || [ -z "$data" ]; then
    why="h2load did not report (see $base.h2)"
  elif [ "$succeeded" -le 0 ]; then
    why="no call succeeded"
  elif [ "$failed" != 0 ] || [ "$errored" != 0 ] || [ "$timeouts" != 0 ] ||
    [ "$ok2xx" != "$succeeded" ]; then
    why="h2load: $failed failed, $errored errored, $timeouts timed out, $ok2xx of $succeeded 2xx"
  elif [ $((data / frame)) -lt "$succeeded" ]; then
    why="only $((data / frame)) answers in $data data bytes for $succeeded calls"
  fi
  local ok_delta=NA other="" cache="" cut_n bad_n hits redis_hits
  if [ -z "$why" ] && [ -n "$mport" ]; then
    delta "$base.before" "$base.after" >"$base.codes"
    ok_delta=$(awk '$1 == "OK" {print $2}' "$base.codes")
    other=$(awk '$1 != "OK" && $2 > 0 {printf "%s%s=%d", sep, $1, $2; sep = " "}' "$base.codes")
    read -r cut_n bad_n < <(awk '$1 != "OK" {
      if ($1 == "Canceled" || $1 == "Unimplemented") c += $2; else bad += $2 }
      END {print c + 0, bad + 0}' "$base.codes")
    delta "$base.cache-before" "$base.cache-after" >"$base.cache"
    # Served from memory or from Redis: either is a cache hit.
    hits=$(awk '$1 == "hit" || $1 == "local-hit" {h += $2} END {print h + 0}' "$base.cache")
    redis_hits=$(awk '$1 == "hit" {h = $2} END {print h + 0}' "$base.cache")
    cache=$(awk '$2 > 0 {printf "%s%s=%d", sep, $1, $2; sep = " "}' "$base.cache")
    if [ -z "$ok_delta" ] || [ "$ok_delta" -lt "$succeeded" ]; then
      why="server counted ${ok_delta:-no} OK calls for $succeeded h2load successes"
    elif [ "$bad_n" != 0 ] || [ "$cut_n" -gt $((2 * INFLIGHT)) ]; then
      why="server counted errors: $other"
    elif [ "$expect" = hit ] && [ "$hits" -lt "$succeeded" ]; then
      why="only $hits cache hits for $succeeded calls ($cache)"
    elif [ "$expect" = down ] && [ "$redis_hits" != 0 ]; then
      why="$redis_hits Redis hits with Redis stopped ($cache)"
    fi
  fi
  if [ -n "$why" ]; then
    FAILED=1
    err "$name round $round NOT VERIFIED: $why"
    echo "NA NA NA NA NA" >"$base.result"
    return 0
  fi
  local rate lat cpu_us redis_us
  rate=$(awk -v n="$succeeded" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')
  cpu_us=$(awk -v t=$((cpu1 - cpu0)) -v n="$succeeded" -v hz="$CLK_TCK" \
    'BEGIN {printf "%.1f", t * 1e6 / hz / n}')
  redis_us=$(awk -v t=$((rcpu1 - rcpu0)) -v n="$succeeded" -v hz="$CLK_TCK" \
    'BEGIN {printf "%.1f", t * 1e6 / hz / n}')
  lat=$(awk -F'\t' '$2 == 200 {print $3}' "$base.h2log" | sort -n | awk '
    {a[NR] = $1; sum += $1}
    END {printf "%.2f %.2f %.2f", a[int(NR * 0.50) + 1] / 1000,
         a[int(NR * 0.99) + 1] / 1000, sum / NR / 1000}')
  rm -f "$base.h2log"
  echo "$rate $lat $cpu_us" >"$base.result"
  printf '  %-10s round %d: %6s calls/s  p50 %5s ms  p99 %6s ms  server CPU %5s us/call, redis %4s  (%s calls in %ss; server OK +%s%s%s)\n' \
    "$name" "$round" "$rate" "$(cut -d' ' -f1 <<<"$lat")" "$(cut -d' ' -f2 <<<"$lat")" \
    "$cpu_us" "$redis_us" "$succeeded" "$secs" "$ok_delta" "${other:+, cut off: $other}" \
    "${cache:+; cache: $cache}"
}

ECHO_URL="http://127.0.0.1:$ECHO_PORT/sightline.bench.v1.Echo/Echo"
PEOPLE_URL="http://127.0.0.1:$PEOPLE_PORT/sightline.people.v1.PeopleService/GetPerson"
NOLOG_URL="http://127.0.0.1:$NOLOG_PORT/sightline.people.v1.PeopleService/GetPerson"
NOLOCAL_URL="http://127.0.0.1:$NOLOCAL_PORT/sightline.people.v1.PeopleService/GetPerson"

log "load: h2load -c $CLIENTS -m $STREAMS ($INFLIGHT calls in flight), ${DURATION}s per run after ${WARMUP}s warm-up, $ROUNDS rounds"
if want people; then
for ((r = 1; r <= ROUNDS; r++)); do
  measure echo "$r" "$ECHO_URL" "$WORK/echo.bin" "$ECHO_FRAME" "$ECHO_PID"
  measure warm "$r" "$PEOPLE_URL" "$WORK/person.bin" "$PERSON_FRAME" "$PEOPLE_PID" \
    "$PEOPLE_METRICS" GetPerson hit
  measure warm-nolog "$r" "$NOLOG_URL" "$WORK/person.bin" "$PERSON_FRAME" "$NOLOG_PID" \
    "$NOLOG_METRICS" GetPerson hit
  measure redis-warm "$r" "$NOLOCAL_URL" "$WORK/person.bin" "$PERSON_FRAME" "$NOLOCAL_PID" \
    "$NOLOCAL_METRICS" GetPerson hit
done
fi

# commit_baseline: the disk's own answer, raw durable SQLite commits at the
# check-in rate (bench/goals commits); measured once per run.
commit_baseline() {
  [ -s "$WORK/commits.out" ] && return 0
  "$GOALS_BENCH" commits --db="$WORK/commits.db" --rate="$CHECKIN_RATE" \
    --seconds="$CHECKIN_SECONDS" >"$WORK/commits.out" 2>&1 ||
    { FAILED=1; err "commit baseline failed: $(cat "$WORK/commits.out")"; }
  log "  commits: $(tr '\n' ' ' <"$WORK/commits.out")"
}

# start_org: a company of $ORG_PEOPLE people in its own people service (the
# goals, feedback and metrics services' org); started once.
ORG_PID=""
start_org() {
  [ -n "$ORG_PID" ] && return 0
  "$PEOPLE_BIN" --grpc_address="127.0.0.1:$ORG_PORT" --metrics_address="127.0.0.1:$ORG_METRICS" \
    --db="$WORK/org.db" --redis="redis://127.0.0.1:$REDIS_PORT" \
    --jwt_key_file="$WORK/jwt.secret" >"$WORK/org.log" 2>&1 &
  ORG_PID=$!
  PIDS+=("$ORG_PID")
  "$PREP" wait "127.0.0.1:$ORG_PORT" || { FAILED=1; err "org people service did not start"; exit 1; }
  "$SYNC_BIN" --target="127.0.0.1:$ORG_PORT" --jwt_key_file="$WORK/jwt.secret" \
    --people="$ORG_PEOPLE" --teams=$((ORG_PEOPLE / 100 + 1)) >"$WORK/org-sync.out" 2>&1 ||
    { FAILED=1; err "org sync failed:"; cat "$WORK/org-sync.out" >&2; exit 1; }
}

# --- goals -------------------------------------------------------------------
# A company of $ORG_PEOPLE people in its own people service, $GOALS goals in 5
# levels and $CHECKINS check-ins written by bench/goals_load (with the goals
# service's own store and roll-up maths), then the goals service on that
# database, the same Redis, and the org's people service.
if want goals; then
log "goals: $ORG_PEOPLE people, $GOALS goals in 5 levels, $CHECKINS check-ins (generated)"
start_org
"$GOALS_LOAD" --db="$WORK/goals.db" --people_target="127.0.0.1:$ORG_PORT" \
  --jwt_key_file="$WORK/jwt.secret" --goals="$GOALS" --check_ins="$CHECKINS" \
  --leaves_out="$WORK/leaves.txt" >"$WORK/goals-load.out" 2>"$WORK/goals-load.err" ||
  { FAILED=1; err "goals load failed:"; cat "$WORK/goals-load.err" >&2; exit 1; }
sed 's/^/  /' "$WORK/goals-load.out"
# The loader leaves about a GiB of the new database in the page cache; the
# service is measured on a database at rest, as after any restart.
sync
if [ "${BENCH_COLD:-0}" = 1 ]; then
  echo 3 >/proc/sys/vm/drop_caches || { FAILED=1; err "BENCH_COLD=1: cannot drop the page cache (root only)"; exit 1; }
  log "  page cache dropped (BENCH_COLD=1)"
fi
"$GOALS_BIN" --grpc_address="127.0.0.1:$GOALS_PORT" --metrics_address="127.0.0.1:$GOALS_METRICS" \
  --db="$WORK/goals.db" --redis="redis://127.0.0.1:$REDIS_PORT" \
  --jwt_key_file="$WORK/jwt.secret" --people_address="127.0.0.1:$ORG_PORT" \
  >"$WORK/goals.log" 2>&1 &
GOALS_PID=$!
PIDS+=("$GOALS_PID")
# Ready once its writer's cache is warm, as a readiness probe would see it.
"$PREP" wait --service=sightline.goals.v1.GoalService "127.0.0.1:$GOALS_PORT" ||
  { FAILED=1; err "goals service did not become ready"; exit 1; }
log "  goals service: $(grep -o '"msg":"writer cache prewarmed"[^}]*' "$WORK/goals.log" | tr -d '"')"

GOALS_CYCLE=$(value cycle "$WORK/goals-load.out")
GOALS_TOTAL=$(value goals "$WORK/goals-load.out")
DEPTH3_NODES=$(value depth3_nodes "$WORK/goals-load.out")
GOALS_READER=$(value reader "$WORK/goals-load.out")
GOALS_TOKEN=$("$CLI" token --key_file="$WORK/jwt.secret" --subject="people/$GOALS_READER" \
  --roles=employee --ttl=2h)
tree() {  # NAME DEPTH NODES RUNS
  "$GOALS_BENCH" tree --target="127.0.0.1:$GOALS_PORT" --token="$GOALS_TOKEN" \
    --cycle="$GOALS_CYCLE" --depth="$2" --expect_nodes="$3" --runs="$4" >"$WORK/$1.out" ||
    { FAILED=1; err "tree $1 failed"; }
  log "  tree $1: $(tr '\n' ' ' <"$WORK/$1.out")"
}
# The first tree of a cycle reads it whole into memory; later ones only what changed.
tree tree-first 0 "$GOALS_TOTAL" 1
tree tree-all 0 "$GOALS_TOTAL" 10
tree tree-depth3 3 "$DEPTH3_NODES" 50

checkins() {  # NAME ARGS...
  local name=$1
  shift
  "$GOALS_BENCH" check-ins --target="127.0.0.1:$GOALS_PORT" --jwt_key_file="$WORK/jwt.secret" \
    --leaves="$WORK/leaves.txt" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" ||
    { FAILED=1; err "check-ins $name failed: $(cat "$WORK/$name.err")"; }
  log "  check-ins $name: $(tr '\n' ' ' <"$WORK/$name.out")"
}
checkins checkins-warmup --rate=100 --seconds=3
# The disk's own answer at the same rate, just before: raw durable commits.
commit_baseline
checkins checkins-rate --rate="$CHECKIN_RATE" --seconds="$CHECKIN_SECONDS"
checkins checkins-max --inflight=32 --seconds=10
fi  # goals

# --- feedback ----------------------------------------------------------------
# The feedback service on its own SQLite database, with the org's people
# service and the goals service; authors and subjects are the leaf goals'
# owners.
if want feedback; then
log "feedback: CreateFeedback from $FEEDBACK_THREADS threads, then ListFeedback of a person with $FEEDBACK_ENTRIES entries"
"$FEEDBACK_BIN" --grpc_address="127.0.0.1:$FEEDBACK_PORT" \
  --metrics_address="127.0.0.1:$FEEDBACK_METRICS" --db="$WORK/feedback.db" \
  --redis="redis://127.0.0.1:$REDIS_PORT" --jwt_key_file="$WORK/jwt.secret" \
  --people_address="127.0.0.1:$ORG_PORT" --goals_address="127.0.0.1:$GOALS_PORT" \
  >"$WORK/feedback.log" 2>&1 &
FEEDBACK_PID=$!
PIDS+=("$FEEDBACK_PID")
"$PREP" wait "127.0.0.1:$FEEDBACK_PORT" || { FAILED=1; err "feedback service did not start"; exit 1; }
feedback() {  # MODE ARGS...
  local mode=$1
  shift
  "$FEEDBACK_BENCH" "$mode" --target="127.0.0.1:$FEEDBACK_PORT" \
    --jwt_key_file="$WORK/jwt.secret" --leaves="$WORK/leaves.txt" \
    --threads="$FEEDBACK_THREADS" "$@" >"$WORK/feedback-$mode.out" 2>"$WORK/feedback-$mode.err" ||
    { FAILED=1; err "feedback $mode failed: $(cat "$WORK/feedback-$mode.err")"; }
  log "  feedback $mode: $(tr '\n' ' ' <"$WORK/feedback-$mode.out")"
}
feedback create --seconds=15
feedback list --entries="$FEEDBACK_ENTRIES" --runs=5
fi  # feedback

if want goals; then
"$GOALS_BENCH" goal-body --target="127.0.0.1:$GOALS_PORT" --token="$GOALS_TOKEN" \
  --goal="$(value sample_goal "$WORK/goals-load.out")" --out="$WORK/goal.bin" >"$WORK/goal-body.out" ||
  { FAILED=1; err "goal-body failed"; exit 1; }
GOAL_FRAME=$(value response_frame_bytes "$WORK/goal-body.out")
GOAL_URL="http://127.0.0.1:$GOALS_PORT/sightline.goals.v1.GoalService/GetGoal"
PEOPLE_TOKEN=$TOKEN
TOKEN=$GOALS_TOKEN
CACHE_NS=goals
for ((r = 1; r <= ROUNDS; r++)); do
  measure echo "$((2 * ROUNDS + r))" "$ECHO_URL" "$WORK/echo.bin" "$ECHO_FRAME" "$ECHO_PID"
  measure goal-warm "$r" "$GOAL_URL" "$WORK/goal.bin" "$GOAL_FRAME" "$GOALS_PID" \
    "$GOALS_METRICS" GetGoal hit
done
TOKEN=$PEOPLE_TOKEN
CACHE_NS=people
fi  # goals: GetGoal

# --- metrics -----------------------------------------------------------------
# The metrics service as deployed (default flags, SQLite in the temp dir,
# durable commits) on the company's people service, its KPIs owned by one of
# the company's people, who writes and reads them.
if want metrics; then
log "metrics: $METRICS_POINTS points over $METRICS_KPIS KPIs in calls of $METRICS_BATCH, $METRICS_INFLIGHT in flight"
start_org
"$METRICS_BIN" --grpc_address="127.0.0.1:$METRICS_PORT" \
  --metrics_address="127.0.0.1:$METRICS_METRICS" --db="$WORK/metrics.db" \
  --jwt_key_file="$WORK/jwt.secret" --people_address="127.0.0.1:$ORG_PORT" \
  >"$WORK/metrics.log" 2>&1 &
METRICS_PID=$!
PIDS+=("$METRICS_PID")
"$PREP" wait "127.0.0.1:$METRICS_PORT" || { FAILED=1; err "metrics service did not start"; exit 1; }
"$PREP" person-body --target="127.0.0.1:$ORG_PORT" --token="$TOKEN" \
  --external_id=E000001 --out="$WORK/kpi-owner.bin" >"$WORK/kpi-owner.out" ||
  { FAILED=1; err "no KPI owner in the org"; exit 1; }
KPI_OWNER=$(value name "$WORK/kpi-owner.out")
METRICS_TOKEN=$("$CLI" token --key_file="$WORK/jwt.secret" --subject="$KPI_OWNER" \
  --roles=employee --ttl=2h)
mbench() {  # STEP ARGS...
  local step=$1
  shift
  "$METRICS_BENCH" "$step" --target="127.0.0.1:$METRICS_PORT" --token="$METRICS_TOKEN" \
    --owner="$KPI_OWNER" "$@" >"$WORK/metrics-$step.out" 2>"$WORK/metrics-$step.err" ||
    { FAILED=1; err "metrics $step failed: $(cat "$WORK/metrics-$step.err")"; }
  log "  metrics $step: $(tr '\n' ' ' <"$WORK/metrics-$step.out")"
}
mbench ingest --kpis="$METRICS_KPIS" --points="$METRICS_POINTS" --batch="$METRICS_BATCH" \
  --inflight="$METRICS_INFLIGHT"
# The same rows, raw, into the same schema in a fresh file on the same disk.
mbench baseline --db="$WORK/metrics-baseline.db" --kpis="$METRICS_KPIS" \
  --points="$METRICS_POINTS" --batch="$METRICS_BATCH" \
  --now_micros="$(value ingest_end_micros "$WORK/metrics-ingest.out")"
mbench query --points="$METRICS_QUERY_POINTS" --batch="$METRICS_BATCH" --inflight="$METRICS_INFLIGHT" \
  --runs=50 --buckets=100
mbench status-body --kpi=bench-k0 --out="$WORK/kpi-status.bin"
STATUS_FRAME=$(value response_frame_bytes "$WORK/metrics-status-body.out")
STATUS_URL="http://127.0.0.1:$METRICS_PORT/sightline.metrics.v1.MetricsService/GetKpiStatus"
PEOPLE_TOKEN=$TOKEN
TOKEN=$METRICS_TOKEN
for ((r = 1; r <= ROUNDS; r++)); do
  measure echo "$((4 * ROUNDS + r))" "$ECHO_URL" "$WORK/echo.bin" "$ECHO_FRAME" "$ECHO_PID"
  measure kpi-status "$r" "$STATUS_URL" "$WORK/kpi-status.bin" "${STATUS_FRAME:-1}" "$METRICS_PID" \
    "$METRICS_METRICS" GetKpiStatus
done
TOKEN=$PEOPLE_TOKEN
fi  # metrics

# --- kpi-follow --------------------------------------------------------------
# KPI point -> key result progress. Its own metrics and goals services on
# fresh databases (see the header), default flags as deployed, the company's
# people service and the shared Redis.
if want kpi-follow; then
log "kpi-follow: $KF_KPIS KPIs x $KF_LINKS key results, one point per call at $KF_RATE/s for ${KF_SECONDS}s"
start_org
kf_metrics_args=(--db="$WORK/kf-metrics.db" --jwt_key_file="$WORK/jwt.secret"
  --people_address="127.0.0.1:$ORG_PORT")
"$METRICS_BIN" --grpc_address="127.0.0.1:$KF_METRICS_PORT" \
  --metrics_address="127.0.0.1:$KF_METRICS_METRICS" "${kf_metrics_args[@]}" \
  >"$WORK/kf-metrics.log" 2>&1 &
KF_METRICS_PID=$!
PIDS+=("$KF_METRICS_PID")
"$PREP" wait "127.0.0.1:$KF_METRICS_PORT" || { FAILED=1; err "kpi-follow: metrics service did not start"; exit 1; }
# A second replica on the same database, for the second run.
"$METRICS_BIN" --grpc_address="127.0.0.1:$KF_REPLICA_PORT" \
  --metrics_address="127.0.0.1:$KF_REPLICA_METRICS" "${kf_metrics_args[@]}" \
  >"$WORK/kf-replica.log" 2>&1 &
KF_REPLICA_PID=$!
PIDS+=("$KF_REPLICA_PID")
"$PREP" wait "127.0.0.1:$KF_REPLICA_PORT" || { FAILED=1; err "kpi-follow: metrics replica did not start"; exit 1; }
"$GOALS_BIN" --grpc_address="127.0.0.1:$KF_GOALS_PORT" --metrics_address="127.0.0.1:$KF_GOALS_METRICS" \
  --db="$WORK/kf-goals.db" --redis="redis://127.0.0.1:$REDIS_PORT" \
  --jwt_key_file="$WORK/jwt.secret" --people_address="127.0.0.1:$ORG_PORT" \
  --metrics_service_address="127.0.0.1:$KF_METRICS_PORT" >"$WORK/kf-goals.log" 2>&1 &
KF_GOALS_PID=$!
PIDS+=("$KF_GOALS_PID")
"$PREP" wait --service=sightline.goals.v1.GoalService "127.0.0.1:$KF_GOALS_PORT" ||
  { FAILED=1; err "kpi-follow: goals service did not become ready"; exit 1; }
# Owners create their goals: the services must know the company first.
for s in metrics replica goals; do
  wait_log "$WORK/kf-$s.log" "people directory loaded" ||
    { FAILED=1; err "kpi-follow: $s never loaded the directory"; exit 1; }
done
kfollow() {  # NAME ARGS...
  local name=$1
  shift
  "$GOALS_BENCH" kpi-follow --target="127.0.0.1:$KF_GOALS_PORT" \
    --metrics_target="127.0.0.1:$KF_METRICS_PORT" --people_target="127.0.0.1:$ORG_PORT" \
    --jwt_key_file="$WORK/jwt.secret" --kpis="$KF_KPIS" --links="$KF_LINKS" \
    --rate="$KF_RATE" --seconds="$KF_SECONDS" --settle="$KF_SETTLE" "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" ||
    { FAILED=1; err "$name failed: $(cat "$WORK/$name.err")"; }
  log "  $name: $(tr '\n' ' ' <"$WORK/$name.out")"
}
kfollow kpi-follow
kfollow kpi-follow-replica --kpi_prefix=replica --write_target="127.0.0.1:$KF_REPLICA_PORT"
fi  # kpi-follow

# --- scorecard ---------------------------------------------------------------
# GetScorecard of a team of $SC_PEOPLE / $SC_TEAMS people, asked by its lead,
# with every part read from the real services.
if want scorecard; then
log "scorecard: an org of $SC_PEOPLE people in $SC_TEAMS teams; GetScorecard of one team by its lead"
SC_ADDR=127.0.0.1
"$PEOPLE_BIN" --grpc_address="$SC_ADDR:$SC_ORG_PORT" --metrics_address="$SC_ADDR:$SC_ORG_METRICS" \
  --db="$WORK/sc-org.db" --redis="redis://127.0.0.1:$REDIS_PORT" \
  --jwt_key_file="$WORK/jwt.secret" >"$WORK/sc-org.log" 2>&1 &
SC_ORG_PID=$!
PIDS+=("$SC_ORG_PID")
"$PREP" wait "$SC_ADDR:$SC_ORG_PORT" || { FAILED=1; err "scorecard people service did not start"; exit 1; }
"$SYNC_BIN" --target="$SC_ADDR:$SC_ORG_PORT" --jwt_key_file="$WORK/jwt.secret" \
  --people="$SC_PEOPLE" --teams="$SC_TEAMS" >"$WORK/sc-org-sync.out" 2>&1 ||
  { FAILED=1; err "scorecard org sync failed:"; cat "$WORK/sc-org-sync.out" >&2; exit 1; }
sc_common=(--redis="redis://127.0.0.1:$REDIS_PORT" --jwt_key_file="$WORK/jwt.secret"
  --people_address="$SC_ADDR:$SC_ORG_PORT")
"$GOALS_BIN" --grpc_address="$SC_ADDR:$SC_GOALS_PORT" --metrics_address="$SC_ADDR:$SC_GOALS_METRICS" \
  --db="$WORK/sc-goals.db" "${sc_common[@]}" \
  --metrics_service_address="$SC_ADDR:$SC_METRICS_PORT" >"$WORK/sc-goals.log" 2>&1 &
SC_GOALS_PID=$!
PIDS+=("$SC_GOALS_PID")
"$FEEDBACK_BIN" --grpc_address="$SC_ADDR:$SC_FEEDBACK_PORT" \
  --metrics_address="$SC_ADDR:$SC_FEEDBACK_METRICS" --db="$WORK/sc-feedback.db" "${sc_common[@]}" \
  --goals_address="$SC_ADDR:$SC_GOALS_PORT" >"$WORK/sc-feedback.log" 2>&1 &
SC_FEEDBACK_PID=$!
PIDS+=("$SC_FEEDBACK_PID")
sc_metrics_args=(--grpc_address="$SC_ADDR:$SC_METRICS_PORT"
  --metrics_address="$SC_ADDR:$SC_METRICS_METRICS" --db="$WORK/sc-metrics.db" "${sc_common[@]}"
  --goals_address="$SC_ADDR:$SC_GOALS_PORT" --feedback_address="$SC_ADDR:$SC_FEEDBACK_PORT")
"$METRICS_BIN" "${sc_metrics_args[@]}" >"$WORK/sc-metrics.log" 2>&1 &
SC_METRICS_PID=$!
PIDS+=("$SC_METRICS_PID")
for s in goals feedback metrics; do
  wait_log "$WORK/sc-$s.log" "people directory loaded" ||
    { FAILED=1; err "scorecard: $s never loaded the directory"; exit 1; }
done
"$SCORECARD_BENCH" seed --people_target="$SC_ADDR:$SC_ORG_PORT" \
  --goals_target="$SC_ADDR:$SC_GOALS_PORT" --feedback_target="$SC_ADDR:$SC_FEEDBACK_PORT" \
  --metrics_target="$SC_ADDR:$SC_METRICS_PORT" --jwt_key_file="$WORK/jwt.secret" \
  >"$WORK/scorecard-seed.out" 2>"$WORK/scorecard-seed.err" ||
  { FAILED=1; err "scorecard seed failed: $(cat "$WORK/scorecard-seed.err")"; exit 1; }
log "  scorecard seed: $(tr '\n' ' ' <"$WORK/scorecard-seed.out")"
# Cold: a metrics process just started (no KPI or status in memory, no
# connection to goals or feedback yet).
stop_pid "$SC_METRICS_PID" 30
"$METRICS_BIN" "${sc_metrics_args[@]}" >>"$WORK/sc-metrics.log" 2>&1 &
SC_METRICS_PID=$!
PIDS+=("$SC_METRICS_PID")
for ((i = 0; i < 600; i++)); do
  [ "$(grep -c "people directory loaded" "$WORK/sc-metrics.log")" -ge 2 ] && break
  sleep 0.1
done
"$SCORECARD_BENCH" measure --metrics_target="$SC_ADDR:$SC_METRICS_PORT" \
  --jwt_key_file="$WORK/jwt.secret" --team="$(value team "$WORK/scorecard-seed.out")" \
  --lead="$(value lead "$WORK/scorecard-seed.out")" --runs="$SC_RUNS" \
  >"$WORK/scorecard.out" 2>"$WORK/scorecard.err" ||
  { FAILED=1; err "scorecard measure failed: $(cat "$WORK/scorecard.err")"; }
log "  scorecard: $(tr '\n' ' ' <"$WORK/scorecard.out")"
fi  # scorecard

# --- pg ----------------------------------------------------------------------
# The production path on PostgreSQL (see the header, step 7). The cluster
# lives in a directory of its own, owned by the postgres user when the bench
# runs as root (initdb and postgres refuse to run as root).
if want pg; then
log "pg: PostgreSQL 15 on loopback with deploy/postgresql/sightline.conf; $PG_CLIENTS in flight, ${PG_SECONDS}s per run${PG_POOL:+, --db_pool_size=$PG_POOL}"
PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sightline-bench-pg-XXXXXX")
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$PG_DIR"
  as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups)
fi
(cd "$PG_DIR" && "${as_pg[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres \
  -E UTF8 --locale=C >"$WORK/pg-initdb.log" 2>&1) ||
  { FAILED=1; err "initdb failed: $(cat "$WORK/pg-initdb.log")"; exit 1; }
# The operator's settings as they are, included the way an operator would.
cp "$(dirname "$0")/../deploy/postgresql/sightline.conf" "$PG_DIR/data/sightline.conf"
echo "include 'sightline.conf'" >>"$PG_DIR/data/postgresql.conf"
(cd "$PG_DIR" && exec "${as_pg[@]}" "$PG_BIN/postgres" -D "$PG_DIR/data" -p "$PG_PORT" \
  -k "$PG_DIR/data" -c listen_addresses=127.0.0.1) >"$WORK/pg-server.log" 2>&1 &
PG_PID=$!
PIDS+=("$PG_PID")
PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres)
for ((i = 0; i < 300; i++)); do
  "${PSQL[@]}" -c 'SELECT 1' >/dev/null 2>&1 && break
  kill -0 "$PG_PID" 2>/dev/null || break
  sleep 0.1
done
"${PSQL[@]}" -c 'SELECT 1' >/dev/null 2>&1 ||
  { FAILED=1; err "postgres did not start: $(tail -5 "$WORK/pg-server.log")"; exit 1; }
PG_SETTINGS=$("${PSQL[@]}" -At -c "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name)
  FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes',
  'shared_buffers', 'wal_buffers', 'max_wal_size', 'max_connections', 'commit_delay')")
log "  postgres $("${PSQL[@]}" -At -c 'SHOW server_version'): $PG_SETTINGS"
for d in commits people goals feedback; do
  "${PSQL[@]}" -c "CREATE DATABASE $d" || { FAILED=1; err "CREATE DATABASE $d failed"; exit 1; }
done
"${PSQL[@]}" -c "CREATE EXTENSION pg_stat_statements" ||
  { FAILED=1; err "pg_stat_statements: not loaded (shared_preload_libraries)"; exit 1; }
pg_url() { echo "postgresql://postgres@127.0.0.1:$PG_PORT/$1"; }

# pg_cpu: CPU ticks PostgreSQL has used so far: the postmaster's own, its
# children's that have exited and been reaped (cutime, cstime) and those of
# its live children. Fields counted after the ")" that ends the command name.
pg_cpu() {
  awk -v pm="$PG_PID" '
    { s = $0; sub(/^.*\) /, "", s); n = split(s, f, " ") }
    n >= 15 && FILENAME == "/proc/" pm "/stat" { t += f[12] + f[13] + f[14] + f[15]; next }
    n >= 15 && f[2] == pm { t += f[12] + f[13] }
    END { print t + 0 }' /proc/[0-9]*/stat 2>/dev/null
}
# cpu_sum PID...: CPU ticks of these processes together.
cpu_sum() {
  local t=0 p
  for p in "$@"; do t=$((t + $(cpu "$p"))); done
  echo "$t"
}
# us_per TICKS CALLS: microseconds of CPU per call.
us_per() {
  awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN {
    if (n == "" || n == "NA" || n <= 0) print "NA"; else printf "%.0f", t * 1e6 / hz / n }'
}

# PostgreSQL's ceiling: one durable single-row INSERT per transaction.
"${PSQL[@]}" -d commits -c "CREATE TABLE commit_row (id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(), body text NOT NULL)"
cat >"$WORK/pg-commit.sql" <<'SQL'
\set n random(1, 1000000000)
INSERT INTO commit_row (body) VALUES (md5(:n::text) || md5((:n + 1)::text));
SQL
c0=$(pg_cpu)
"$PG_BIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U postgres -n -M prepared -c "$PG_CLIENTS" -j 2 \
  -T "$PG_SECONDS" -f "$WORK/pg-commit.sql" commits >"$WORK/pgbench.out" 2>&1 ||
  { FAILED=1; err "pgbench failed: $(tail -5 "$WORK/pgbench.out")"; }
sleep 0.5  # the backends exit and are reaped
c1=$(pg_cpu)
PGB_TPS=$(awk '/^tps = / {printf "%.0f", $3}' "$WORK/pgbench.out")
PGB_N=$(awk -F': ' '/number of transactions actually processed/ {print $2}' "$WORK/pgbench.out")
PGB_FAILED=$(awk '/number of failed transactions/ {print $5}' "$WORK/pgbench.out")
PGB_LAT=$(awk '/^latency average/ {print $4}' "$WORK/pgbench.out")
PGB_PG_US=$(us_per $((c1 - c0)) "${PGB_N:-NA}")
{ echo "tps=${PGB_TPS:-NA}"; echo "transactions=${PGB_N:-NA}"; echo "failed=${PGB_FAILED:-NA}"
  echo "latency_ms=${PGB_LAT:-NA}"; echo "pg_cpu_us=$PGB_PG_US"; } >"$WORK/pg-pgbench.out"
log "  pgbench: $(tr '\n' ' ' <"$WORK/pg-pgbench.out")"
[ -n "$PGB_TPS" ] && [ "${PGB_FAILED:-1}" = 0 ] ||
  { FAILED=1; err "pgbench: no rate, or failed transactions (see $WORK/pgbench.out)"; PGB_TPS=NA; }

# The company: people on PostgreSQL, then its goals database.
"$PEOPLE_BIN" --grpc_address="127.0.0.1:$PG_PEOPLE_PORT" \
  --metrics_address="127.0.0.1:$PG_PEOPLE_METRICS" --db="$(pg_url people)" \
  --redis="redis://127.0.0.1:$REDIS_PORT" --jwt_key_file="$WORK/jwt.secret" \
  >"$WORK/pg-people.log" 2>&1 &
PG_PEOPLE_PID=$!
PIDS+=("$PG_PEOPLE_PID")
"$PREP" wait "127.0.0.1:$PG_PEOPLE_PORT" || { FAILED=1; err "pg: people service did not start"; exit 1; }
"$SYNC_BIN" --target="127.0.0.1:$PG_PEOPLE_PORT" --jwt_key_file="$WORK/jwt.secret" \
  --people="$PG_PEOPLE" --teams=$((PG_PEOPLE / 100 + 1)) >"$WORK/pg-sync.out" 2>&1 ||
  { FAILED=1; err "pg: people sync failed:"; cat "$WORK/pg-sync.out" >&2; exit 1; }
"$GOALS_LOAD" --db="$(pg_url goals)" --people_target="127.0.0.1:$PG_PEOPLE_PORT" \
  --jwt_key_file="$WORK/jwt.secret" --goals="$PG_GOALS" --upper_levels=5,50,400 \
  --check_ins="$PG_GOALS" --leaves_out="$WORK/pg-leaves.txt" \
  >"$WORK/pg-goals-load.out" 2>"$WORK/pg-goals-load.err" ||
  { FAILED=1; err "pg: goals load failed:"; cat "$WORK/pg-goals-load.err" >&2; exit 1; }
log "  company: $(value people "$WORK/pg-goals-load.out") people, $(value goals "$WORK/pg-goals-load.out") goals in levels $(value levels "$WORK/pg-goals-load.out"), $(value check_ins "$WORK/pg-goals-load.out") check-ins"

openssl rand -hex 32 >"$WORK/pg-token.key"  # replicas share page and resume tokens
pool_args=()
[ -z "$PG_POOL" ] || pool_args=(--db_pool_size="$PG_POOL")
PG_GOALS_PIDS=()
PG_FB_PIDS=()
start_pg_goals() {  # I
  "$GOALS_BIN" --grpc_address="127.0.0.1:${PG_GOALS_PORTS[$1]}" \
    --metrics_address="127.0.0.1:${PG_GOALS_METRICS[$1]}" --db="$(pg_url goals)" \
    --redis="redis://127.0.0.1:$REDIS_PORT" --jwt_key_file="$WORK/jwt.secret" \
    --token_key_file="$WORK/pg-token.key" --people_address="127.0.0.1:$PG_PEOPLE_PORT" \
    --metrics_service_address= "${pool_args[@]}" >"$WORK/pg-goals-$1.log" 2>&1 &
  PG_GOALS_PIDS+=($!)
  PIDS+=($!)
  "$PREP" wait --service=sightline.goals.v1.GoalService "127.0.0.1:${PG_GOALS_PORTS[$1]}" ||
    { FAILED=1; err "pg: goals replica $1 did not become ready"; exit 1; }
}
start_pg_feedback() {  # I
  "$FEEDBACK_BIN" --grpc_address="127.0.0.1:${PG_FB_PORTS[$1]}" \
    --metrics_address="127.0.0.1:${PG_FB_METRICS[$1]}" --db="$(pg_url feedback)" \
    --redis="redis://127.0.0.1:$REDIS_PORT" --jwt_key_file="$WORK/jwt.secret" \
    --token_key_file="$WORK/pg-token.key" --people_address="127.0.0.1:$PG_PEOPLE_PORT" \
    --goals_address="127.0.0.1:${PG_GOALS_PORTS[$1]}" "${pool_args[@]}" \
    >"$WORK/pg-feedback-$1.log" 2>&1 &
  PG_FB_PIDS+=($!)
  PIDS+=($!)
  "$PREP" wait "127.0.0.1:${PG_FB_PORTS[$1]}" ||
    { FAILED=1; err "pg: feedback replica $1 did not start"; exit 1; }
  wait_log "$WORK/pg-feedback-$1.log" "people directory loaded" ||
    { FAILED=1; err "pg: feedback replica $1 never loaded the directory"; exit 1; }
}
# targets N SERVICE: the first N replicas' addresses, comma separated.
targets() {
  local -n ports=$2
  local out="" i
  for ((i = 0; i < $1; i++)); do out+="${out:+,}127.0.0.1:${ports[i]}"; done
  echo "$out"
}
# xacts DB: "commits rollbacks" of the database so far (pg_stat_database).
xacts() {
  "${PSQL[@]}" -At -F' ' -c "SELECT xact_commit, xact_rollback FROM pg_stat_database
    WHERE datname = '$1'"
}
# pg_run NAME DB PIDS-ARRAY COMMAND...: runs a load tool, then appends to
# NAME.out, per call (calls = ok + failed): the CPU of the services in
# PIDS-ARRAY and of PostgreSQL, the SQL statements DB ran and their execution
# time (pg_stat_statements), and the transactions DB committed and rolled
# back (a rollback is a conflict retried, or a failed call). The statements
# that took the most time go to NAME.sql.
pg_run() {
  local name=$1 db=$2 out="$WORK/$1.out"
  local -n svc=$3
  shift 3
  local s0 s1 p0 p1 x0 x1 calls
  "${PSQL[@]}" -c "SELECT pg_stat_statements_reset()" >/dev/null
  x0=$(xacts "$db")
  s0=$(cpu_sum "${svc[@]}")
  p0=$(pg_cpu)
  "$@" >"$out" 2>"$WORK/$name.err" ||
    { FAILED=1; err "$name failed: $(cat "$WORK/$name.err")"; }
  s1=$(cpu_sum "${svc[@]}")
  p1=$(pg_cpu)
  sleep 1.2  # idle backends publish their transaction counts within a second
  x1=$(xacts "$db")
  calls=$(value checkins_sent "$out")
  [ -n "$calls" ] || calls=$(value create_calls "$out")
  { echo "service_cpu_us=$(us_per $((s1 - s0)) "${calls:-NA}")"
    echo "pg_cpu_us=$(us_per $((p1 - p0)) "${calls:-NA}")"
    "${PSQL[@]}" -At -c "SELECT 'sql_statements=' || round(sum(s.calls)::numeric / ${calls:-0}, 1)
      || E'\nsql_exec_us=' || round((sum(s.total_exec_time) * 1000 / ${calls:-0})::numeric, 0)
      FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '$db'"
    awk -v a="$x0" -v b="$x1" -v n="${calls:-0}" 'BEGIN {
      split(a, u, " "); split(b, v, " ")
      if (n > 0) printf "tx_commits=%.2f\ntx_rollbacks=%.2f\n", (v[1] - u[1]) / n, (v[2] - u[2]) / n }'
  } >>"$out" 2>/dev/null
  "${PSQL[@]}" -c "SELECT s.calls, round(s.total_exec_time::numeric, 0) AS ms, s.rows,
      left(regexp_replace(s.query, '\s+', ' ', 'g'), 160) AS query
    FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '$db'
    ORDER BY s.total_exec_time DESC LIMIT 12" >"$WORK/$name.sql" 2>&1
  log "  $name: $(tr '\n' ' ' <"$out")"
}
pg_checkins() {  # NAME REPLICAS ARGS...
  local name=$1 n=$2
  shift 2
  pg_run "$name" goals PG_GOALS_PIDS "$GOALS_BENCH" check-ins --target="$(targets "$n" PG_GOALS_PORTS)" \
    --jwt_key_file="$WORK/jwt.secret" --leaves="$WORK/pg-leaves.txt" --keep_going "$@"
}
pg_feedback() {  # NAME REPLICAS
  pg_run "$1" feedback PG_FB_PIDS "$FEEDBACK_BENCH" create --target="$(targets "$2" PG_FB_PORTS)" \
    --jwt_key_file="$WORK/jwt.secret" --leaves="$WORK/pg-leaves.txt" \
    --threads="$PG_CLIENTS" --seconds="$PG_SECONDS" --keep_going
}

# One replica of each.
start_pg_goals 0
start_pg_feedback 0
pg_checkins pg-checkins-warmup 1 --rate=100 --seconds=2
pg_checkins pg-checkins-1 1 --inflight="$PG_CLIENTS" --seconds="$PG_SECONDS"
pg_checkins pg-checkins-rate 1 --rate="$CHECKIN_RATE" --seconds="$PG_SECONDS"
pg_feedback pg-feedback-1 1
# Three: two more of each on the same databases, the load spread over all.
start_pg_goals 1
start_pg_goals 2
start_pg_feedback 1
start_pg_feedback 2
pg_checkins pg-checkins-3 3 --inflight="$PG_CLIENTS" --seconds="$PG_SECONDS"
pg_feedback pg-feedback-3 3
# Stopped here, the services first: the rest of the bench runs without them.
for p in "${PG_FB_PIDS[@]}" "${PG_GOALS_PIDS[@]}" "$PG_PEOPLE_PID"; do stop_pid "$p" 30; done
kill -INT "$PG_PID" 2>/dev/null || true  # fast shutdown
stop_pid "$PG_PID" 30
fi  # pg

if want people; then
REDIS_GET=$(timeout 60 redis-benchmark -p "$REDIS_PORT" -t get -n 200000 -c 50 -q 2>/dev/null |
  tr '\r' '\n' | awk '/requests per second/ {printf "%.0f", $2}' || true)

log "stopping redis-server (pid $REDIS_PID)"
stop_pid "$REDIS_PID" 10
REDIS_LIVE=""
for ((r = 1; r <= ROUNDS; r++)); do
  measure echo "$((3 * ROUNDS + r))" "$ECHO_URL" "$WORK/echo.bin" "$ECHO_FRAME" "$ECHO_PID"
  measure redis-down "$r" "$PEOPLE_URL" "$WORK/person.bin" "$PERSON_FRAME" "$PEOPLE_PID" \
    "$PEOPLE_METRICS" GetPerson down
  measure sqlite-only "$r" "$NOLOCAL_URL" "$WORK/person.bin" "$PERSON_FRAME" "$NOLOCAL_PID" \
    "$NOLOCAL_METRICS" GetPerson down
done
fi  # people: Redis stopped
# The echo baseline of the machine line, when no part measured it.
ls "$WORK"/echo.*.result >/dev/null 2>&1 ||
  measure echo 1 "$ECHO_URL" "$WORK/echo.bin" "$ECHO_FRAME" "$ECHO_PID"
commit_baseline
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- table -------------------------------------------------------------------
# best NAME: the result line of the round with the most calls/s.
best() { { cat "$WORK/$1".*.result 2>/dev/null || echo "NA NA NA NA NA"; } | sort -k1,1nr | head -1; }
ECHO_BEST=$(best echo)
ECHO_RATE=$(cut -d' ' -f1 <<<"$ECHO_BEST")

row() { printf '| %s | %s | %s | %s | %s | %s |\n' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "NA" || b == "NA" || b == 0) print "NA"; else printf "%.2f", a / b}'; }
# check VALUE OP LIMIT -> yes/no
check() { awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
  if (v == "NA") {print "NA"; exit}
  ok = (op == ">=") ? v >= l : v < l; print ok ? "yes" : "no" }'; }
MISSED=0
TARGETS=0
HELD=0
MISSED_NAMES=()
target_row() {  # measure value baseline ratio target ok
  row "$@"
  TARGETS=$((TARGETS + 1))
  if [ "$6" = yes ]; then
    HELD=$((HELD + 1))
  else
    MISSED=1
    MISSED_NAMES+=("$1 ($6)")
  fi
}

WARM=$(best warm); NOLOG=$(best warm-nolog); DOWN=$(best redis-down)
RWARM=$(best redis-warm); SQLONLY=$(best sqlite-only)
RWARM_RATE=$(cut -d' ' -f1 <<<"$RWARM")
SQLONLY_RATE=$(cut -d' ' -f1 <<<"$SQLONLY")
WARM_RATE=$(cut -d' ' -f1 <<<"$WARM")
NOLOG_RATE=$(cut -d' ' -f1 <<<"$NOLOG")
DOWN_RATE=$(cut -d' ' -f1 <<<"$DOWN")
WARM_RATIO=$(ratio "$WARM_RATE" "$ECHO_RATE")
lat() { awk '{print $2 " / " $3}' <<<"$1"; }

FULL_S=$(value full_sync_seconds "$WORK/sync.out")
RESYNC_S=$(value resync_seconds "$WORK/sync.out")
BARE_S=$(value sqlite_bare_insert_seconds "$WORK/sync.out")
SCHEMA_S=$(value sqlite_schema_insert_seconds "$WORK/sync.out")
RSS=$(value rss_bytes "$WORK/sync.out")
PEAK=$(value rss_peak_bytes "$WORK/sync.out")
mib() { awk -v b="$1" 'BEGIN {printf "%.0f", b / 1048576}'; }
N=$(sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$PEOPLE")

COMMIT_P99=$(value commits_p99_ms "$WORK/commits.out")
COMMIT_P50=$(value commits_p50_ms "$WORK/commits.out")
CPU_MODEL=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
[ -n "$CPU_MODEL" ] || CPU_MODEL=$(awk -F': *' '/^(Hardware|cpu model|uarch)/ {print $2; exit}' /proc/cpuinfo)
cpu_of() { cut -d' ' -f5 <<<"$1"; }
ECHO_CPU=$(cpu_of "$ECHO_BEST")

# The machine, so that two runs can be compared.
echo
echo "machine: ${CPU_MODEL:-unknown CPU}; $(nproc) cores online ($(grep -c '^processor' /proc/cpuinfo) listed)"
echo "machine: echo (bare gRPC, h2load -c $CLIENTS -m $STREAMS): ${ECHO_RATE:-NA} calls/s, server CPU ${ECHO_CPU:-NA} us/call"
echo "machine: durable SQLite commit (WAL, synchronous=FULL, 4 KiB row, $CHECKIN_RATE/s): p50 ${COMMIT_P50:-NA} ms, p99 ${COMMIT_P99:-NA} ms"
echo "machine: load average $LOAD_BEFORE before, $LOAD_AFTER after"
echo
echo "sightline bench: parts ${ONLY}; h2load -c $CLIENTS -m $STREAMS, ${DURATION}s x $ROUNDS rounds (best kept)"
echo
row measure value baseline ratio target "held?"
row --- --- --- --- --- ---
row "Echo, bare gRPC (calls/s)" "$ECHO_RATE" - - - -
row "Latency p50 / p99, echo (ms)" "$(lat "$ECHO_BEST")" - - - -
row "Server CPU per call, echo (us)" "$ECHO_CPU" - - - -
row "Durable SQLite commit of one 4 KiB row at $CHECKIN_RATE/s: p50 / p99 (ms)" \
  "${COMMIT_P50:-NA} / ${COMMIT_P99:-NA}" - - - -
if want people; then
target_row "GetPerson, warm cache (calls/s)" "$WARM_RATE" "$ECHO_RATE (echo)" "$WARM_RATIO" ">= 0.70" \
  "$(check "$WARM_RATIO" ">=" 0.70)"
row "GetPerson, warm, --log_calls=false (calls/s)" "$NOLOG_RATE" "$ECHO_RATE (echo)" \
  "$(ratio "$NOLOG_RATE" "$ECHO_RATE")" - -
row "GetPerson warm: with call log / without" "$(ratio "$WARM_RATE" "$NOLOG_RATE")" - - - -
row "GetPerson, Redis stopped (calls/s)" "$DOWN_RATE" "$ECHO_RATE (echo)" \
  "$(ratio "$DOWN_RATE" "$ECHO_RATE")" - -
row "GetPerson, no in-process cache, from Redis (calls/s)" "$RWARM_RATE" "$ECHO_RATE (echo)" \
  "$(ratio "$RWARM_RATE" "$ECHO_RATE")" - -
row "GetPerson, no in-process cache, Redis stopped: SQLite (calls/s)" "$SQLONLY_RATE" \
  "$ECHO_RATE (echo)" "$(ratio "$SQLONLY_RATE" "$ECHO_RATE")" - -
row "Latency p50 / p99, GetPerson warm (ms)" "$(lat "$WARM")" "$(lat "$ECHO_BEST") (echo)" - - -
row "Latency p50 / p99, GetPerson Redis stopped (ms)" "$(lat "$DOWN")" "$(lat "$ECHO_BEST") (echo)" - - -
row "Server CPU per call, GetPerson warm (us)" "$(cpu_of "$WARM")" "$ECHO_CPU (echo)" \
  "$(ratio "$(cpu_of "$WARM")" "$ECHO_CPU")" - -
row "Server CPU per call, GetPerson warm, no call log (us)" "$(cpu_of "$NOLOG")" "$ECHO_CPU (echo)" \
  "$(ratio "$(cpu_of "$NOLOG")" "$ECHO_CPU")" - -
row "Server CPU per call, GetPerson Redis stopped (us)" "$(cpu_of "$DOWN")" "$ECHO_CPU (echo)" \
  "$(ratio "$(cpu_of "$DOWN")" "$ECHO_CPU")" - -
row "Redis GET, redis-benchmark -c 50 (calls/s)" "${REDIS_GET:-NA}" - - - -
target_row "FULL sync of $N people (s)" "$FULL_S" "$BARE_S (bare SQLite insert)" \
  "$(ratio "$FULL_S" "$BARE_S")" "< 10" "$(check "$FULL_S" "<" 10)"
target_row "Unchanged re-sync of $N people (s)" "$RESYNC_S" "$BARE_S (bare SQLite insert)" \
  "$(ratio "$RESYNC_S" "$BARE_S")" "< 3" "$(check "$RESYNC_S" "<" 3)"
SINK_S=$(value sink_stream_seconds "$WORK/sync.out")
FULL_SEND=$(value full_sync_send_seconds "$WORK/sync.out")
RESYNC_SEND=$(value resync_send_seconds "$WORK/sync.out")
row "FULL sync: streaming the records (s)" "$FULL_SEND" "$SINK_S (bare gRPC stream)" \
  "$(ratio "$FULL_SEND" "$SINK_S")" - -
row "Re-sync: streaming the records (s)" "$RESYNC_SEND" "$SINK_S (bare gRPC stream)" \
  "$(ratio "$RESYNC_SEND" "$SINK_S")" - -
row "SQLite insert, people schema + indexes (s)" "$SCHEMA_S" "$BARE_S (bare SQLite insert)" \
  "$(ratio "$SCHEMA_S" "$BARE_S")" - -
target_row "Resident memory after the syncs (MiB)" "$(mib "$RSS")" - - "< 150" \
  "$(check "$(mib "$RSS")" "<" 150)"
row "Peak resident memory during the syncs (MiB)" "$(mib "$PEAK")" - - - -
fi  # people
if want goals; then
GOAL=$(best goal-warm)
GOAL_RATE=$(cut -d' ' -f1 <<<"$GOAL")
GOAL_RATIO=$(ratio "$GOAL_RATE" "$ECHO_RATE")
target_row "GetGoal, warm cache (calls/s)" "$GOAL_RATE" "$ECHO_RATE (echo)" "$GOAL_RATIO" ">= 0.70" \
  "$(check "$GOAL_RATIO" ">=" 0.70)"
row "Latency p50 / p99, GetGoal warm (ms)" "$(lat "$GOAL")" "$(lat "$ECHO_BEST") (echo)" - - -
row "Server CPU per call, GetGoal warm (us)" "$(cpu_of "$GOAL")" "$ECHO_CPU (echo)" \
  "$(ratio "$(cpu_of "$GOAL")" "$ECHO_CPU")" - -
ALL_P50=$(value tree_p50_ms "$WORK/tree-all.out")
target_row "GetAlignmentTree, whole company, $(value tree_nodes "$WORK/tree-all.out") goals in $(value tree_chunks "$WORK/tree-all.out") chunks, p50 of 10 (ms)" \
  "${ALL_P50:-NA}" - - "< 500" "$(check "${ALL_P50:-NA}" "<" 500)"
row "GetAlignmentTree, whole company, slowest of 10 (ms)" "$(value tree_max_ms "$WORK/tree-all.out")" - - - -
row "GetAlignmentTree, whole company, first call of the cycle (ms)" "$(value tree_max_ms "$WORK/tree-first.out")" - - - -
D3_P50=$(value tree_p50_ms "$WORK/tree-depth3.out")
target_row "GetAlignmentTree, depth 3, $(value tree_nodes "$WORK/tree-depth3.out") goals, p50 of 50 (ms)" \
  "${D3_P50:-NA}" - - "< 20" "$(check "${D3_P50:-NA}" "<" 20)"
row "GetAlignmentTree, depth 3, p90 of 50 (ms)" "$(value tree_p90_ms "$WORK/tree-depth3.out")" - - - -
CI_RATE=$(value checkins_per_s "$WORK/checkins-rate.out")
CI_P99=$(value checkins_p99_ms "$WORK/checkins-rate.out")
# Completions over the span from the first planned send to the last answer:
# a service that keeps up lands just under the offered rate.
KEEP_UP=$((CHECKIN_RATE * 98 / 100))
target_row "CreateCheckIn offered at $CHECKIN_RATE/s for ${CHECKIN_SECONDS}s: completed (calls/s)" "${CI_RATE:-NA}" - - \
  ">= $KEEP_UP (98% of offered)" "$(check "${CI_RATE:-NA}" ">=" "$KEEP_UP")"
# Under 10 ms, or under 3x the disk's own commit p99 in the same run on a
# disk slower than that: the service cannot commit faster than its disk.
CI_LIMIT=$(awk -v c="${COMMIT_P99:-NA}" 'BEGIN {
  l = 10; if (c != "NA" && c != "" && 3 * c > l) l = 3 * c; printf "%.1f", l }')
target_row "CreateCheckIn at $CHECKIN_RATE/s: p99 latency from planned send (ms)" "${CI_P99:-NA}" \
  "${COMMIT_P99:-NA} (SQLite commit p99)" "$(ratio "${CI_P99:-NA}" "${COMMIT_P99:-NA}")" \
  "< $CI_LIMIT (max of 10, 3 x commit p99)" "$(check "${CI_P99:-NA}" "<" "$CI_LIMIT")"
CI_P50=$(value checkins_p50_ms "$WORK/checkins-rate.out")
row "CreateCheckIn at $CHECKIN_RATE/s: p50 latency (ms)" "${CI_P50:-NA}" \
  "${COMMIT_P50:-NA} (SQLite commit)" "$(ratio "${CI_P50:-NA}" "${COMMIT_P50:-NA}")" - -
row "CreateCheckIn, 32 in flight: most sustained (calls/s)" "$(value checkins_per_s "$WORK/checkins-max.out")" - - - -
fi  # goals
if want feedback; then
FB_RATE=$(value create_per_s "$WORK/feedback-create.out")
target_row "CreateFeedback, durable on SQLite, $FEEDBACK_THREADS in flight (calls/s)" "${FB_RATE:-NA}" \
  "$ECHO_RATE (echo)" "$(ratio "${FB_RATE:-NA}" "$ECHO_RATE")" ">= 2000" "$(check "${FB_RATE:-NA}" ">=" 2000)"
row "CreateFeedback latency p50 / p99 (ms)" \
  "$(value create_p50_ms "$WORK/feedback-create.out") / $(value create_p99_ms "$WORK/feedback-create.out")" - - - -
FB_LIST=$(value list_p99_ms "$WORK/feedback-list.out")
target_row "ListFeedback of a person with $(value list_entries "$WORK/feedback-list.out") entries, 50 a page, every page 5 times: p99 (ms)" \
  "${FB_LIST:-NA}" - - "< 20" "$(check "${FB_LIST:-NA}" "<" 20)"
row "ListFeedback, same walk: p50 (ms)" "$(value list_p50_ms "$WORK/feedback-list.out")" - - - -
fi  # feedback
if want metrics; then
MI=$WORK/metrics-ingest.out
ING_RATE=$(value ingest_points_per_s "$MI")
ING_BASE=$(value baseline_points_per_s "$WORK/metrics-baseline.out")
MN=$(sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"${METRICS_POINTS}")
target_row "WriteDataPoints, $MN points of $METRICS_KPIS KPIs, calls of $METRICS_BATCH, $METRICS_INFLIGHT in flight, durable (points/s)" \
  "${ING_RATE:-NA}" "${ING_BASE:-NA} (raw SQLite, same rows, batch, schema)" \
  "$(ratio "${ING_RATE:-NA}" "${ING_BASE:-NA}")" ">= 200000" "$(check "${ING_RATE:-NA}" ">=" 200000)"
row "WriteDataPoints: time per call, p50 / slowest" \
  "$(value ingest_call_p50_ms "$MI") / $(value ingest_call_max_ms "$MI") ms" - - - -
MQ=$WORK/metrics-query.out
row "WriteDataPoints, $(value query_points "$MQ") points of one KPI, same calls (points/s)" \
  "$(value query_write_points_per_s "$MQ")" "${ING_BASE:-NA} (raw SQLite)" \
  "$(ratio "$(value query_write_points_per_s "$MQ")" "${ING_BASE:-NA}")" - -
Q_P50=$(value query_p50_ms "$MQ")
target_row "QueryKpi, $(value query_points "$MQ") points of one KPI in $(value query_buckets "$MQ") buckets of $(value query_step_hours "$MQ") h: p50 of $(value query_runs "$MQ") (ms)" \
  "${Q_P50:-NA}" - - "< 50" "$(check "${Q_P50:-NA}" "<" 50)"
row "QueryKpi, same: p99 / slowest (ms)" "$(value query_p99_ms "$MQ") / $(value query_max_ms "$MQ")" - - - -
KS=$(best kpi-status)
KS_RATE=$(cut -d' ' -f1 <<<"$KS")
KS_RATIO=$(ratio "$KS_RATE" "$ECHO_RATE")
target_row "GetKpiStatus, warm (calls/s)" "$KS_RATE" "$ECHO_RATE (echo)" "$KS_RATIO" ">= 0.70" \
  "$(check "$KS_RATIO" ">=" 0.70)"
row "Latency p50 / p99, GetKpiStatus warm (ms)" "$(lat "$KS")" "$(lat "$ECHO_BEST") (echo)" - - -
row "Server CPU per call, GetKpiStatus warm (us)" "$(cpu_of "$KS")" "$ECHO_CPU (echo)" \
  "$(ratio "$(cpu_of "$KS")" "$ECHO_CPU")" - -
fi  # metrics
if want scorecard; then
SCO=$WORK/scorecard.out
SC_TEAM_N=$(value members "$WORK/scorecard-seed.out")
SC_WARM=$(value scorecard_warm_p50_ms "$SCO")
SC_COLD=$(value scorecard_cold_ms "$SCO")
target_row "GetScorecard, team of ${SC_TEAM_N:-NA} people ($(value scorecard_goals "$SCO") goals, $(value scorecard_kpis "$SCO") KPIs seen by its lead), warm p50 of $(value scorecard_runs "$SCO") (ms)" \
  "${SC_WARM:-NA}" - - "< 20" "$(check "${SC_WARM:-NA}" "<" 20)"
target_row "GetScorecard, same, cold: first call on a restarted metrics service (ms)" \
  "${SC_COLD:-NA}" - - "< 300" "$(check "${SC_COLD:-NA}" "<" 300)"
row "GetScorecard, same, warm p90 / slowest (ms)" \
  "$(value scorecard_warm_p90_ms "$SCO") / $(value scorecard_warm_max_ms "$SCO")" - - - -
fi  # scorecard
if want kpi-follow; then
KF=$WORK/kpi-follow.out
KF_P99=$(value kpi_follow_p99_ms "$KF")
KF_MISSING=$(value kpi_follow_missing "$KF")
target_row "KPI point -> linked key result moved (WatchGoals), $KF_RATE points/s for ${KF_SECONDS}s, one a call, $(value kpi_follow_kpis "$KF") KPIs x $KF_LINKS key results: p99 from the write's answer (ms)" \
  "${KF_P99:-NA}" - - "< 1000" "$(check "${KF_P99:-NA}" "<" 1000)"
row "KPI point -> key result, same: p50 / p90 / slowest (ms)" \
  "$(value kpi_follow_p50_ms "$KF") / $(value kpi_follow_p90_ms "$KF") / $(value kpi_follow_max_ms "$KF")" - - - -
target_row "KPI points whose key results never moved (of $(value kpi_follow_written "$KF") written)" \
  "${KF_MISSING:-NA}" - - "0" "$(check "${KF_MISSING:-NA}" "<" 1)"
row "BatchWriteDataPoints of one point at $KF_RATE/s: p50 / p99 from planned send (ms)" \
  "$(value kpi_follow_write_p50_ms "$KF") / $(value kpi_follow_write_p99_ms "$KF")" \
  "${COMMIT_P50:-NA} / ${COMMIT_P99:-NA} (SQLite commit)" - - -
KFR=$WORK/kpi-follow-replica.out
row "KPI point -> key result, points written to another metrics replica: p50 / p99 / slowest (ms)" \
  "$(value kpi_follow_p50_ms "$KFR") / $(value kpi_follow_p99_ms "$KFR") / $(value kpi_follow_max_ms "$KFR")" \
  - - - -
row "KPI points via another replica whose key results never moved (of $(value kpi_follow_written "$KFR") written)" \
  "$(value kpi_follow_missing "$KFR")" - - - -
fi  # kpi-follow
if want pg; then
PCI1=$WORK/pg-checkins-1.out; PCI3=$WORK/pg-checkins-3.out; PCIR=$WORK/pg-checkins-rate.out
PFB1=$WORK/pg-feedback-1.out; PFB3=$WORK/pg-feedback-3.out
PGB_RATE=$(value tps "$WORK/pg-pgbench.out")
row "PostgreSQL 15, durable single-row INSERT commits, pgbench -c $PG_CLIENTS -j 2 -M prepared (commits/s)" \
  "${PGB_RATE:-NA}" - - - -
row "PostgreSQL CPU per pgbench commit (us)" "$(value pg_cpu_us "$WORK/pg-pgbench.out")" - - - -
PCI1_RATE=$(value checkins_per_s "$PCI1")
PCI1_RATIO=$(ratio "${PCI1_RATE:-NA}" "${PGB_RATE:-NA}")
target_row "CreateCheckIn on PostgreSQL, 1 replica, $PG_CLIENTS in flight (calls/s)" "${PCI1_RATE:-NA}" \
  "${PGB_RATE:-NA} (pgbench commits/s)" "$PCI1_RATIO" ">= 0.50" "$(check "$PCI1_RATIO" ">=" 0.50)"
PCI3_RATE=$(value checkins_per_s "$PCI3")
PCI3_RATIO=$(ratio "${PCI3_RATE:-NA}" "${PCI1_RATE:-NA}")
target_row "CreateCheckIn on PostgreSQL, 3 replicas, $PG_CLIENTS in flight (calls/s)" "${PCI3_RATE:-NA}" \
  "${PCI1_RATE:-NA} (1 replica)" "$PCI3_RATIO" ">= 1.00" "$(check "$PCI3_RATIO" ">=" 1.00)"
PCI_ABORTED=$(awk -v a="$(value checkins_aborted "$PCI1")" -v b="$(value checkins_aborted "$PCI3")" \
  -v c="$(value checkins_aborted "$PCIR")" 'BEGIN {
  if (a == "" || b == "" || c == "") print "NA"; else print a + b + c }')
target_row "CreateCheckIn on PostgreSQL: ABORTED answers (all three runs)" "$PCI_ABORTED" - - "0" \
  "$(check "$PCI_ABORTED" "<" 1)"
row "CreateCheckIn on PostgreSQL: failed calls by code, 1 replica / 3 replicas / at $CHECKIN_RATE/s" \
  "$(value checkins_codes "$PCI1") / $(value checkins_codes "$PCI3") / $(value checkins_codes "$PCIR")" - - - -
PCIR_P99=$(value checkins_p99_ms "$PCIR")
target_row "CreateCheckIn on PostgreSQL, 1 replica, offered at $CHECKIN_RATE/s for ${PG_SECONDS}s: p99 from planned send (ms)" \
  "${PCIR_P99:-NA}" - - "< 20" "$(check "${PCIR_P99:-NA}" "<" 20)"
row "CreateCheckIn on PostgreSQL at $CHECKIN_RATE/s: p50 (ms), completed (calls/s)" \
  "$(value checkins_p50_ms "$PCIR"), $(value checkins_per_s "$PCIR")" - - - -
row "CreateCheckIn on PostgreSQL, $PG_CLIENTS in flight: p50 / p99 (ms), 1 replica; 3 replicas" \
  "$(value checkins_p50_ms "$PCI1") / $(value checkins_p99_ms "$PCI1"); $(value checkins_p50_ms "$PCI3") / $(value checkins_p99_ms "$PCI3")" - - - -
PCI1_SVC=$(value service_cpu_us "$PCI1")
PCI3_SVC=$(value service_cpu_us "$PCI3")
row "CPU per check-in, 1 replica: service / PostgreSQL (us)" \
  "${PCI1_SVC:-NA} / $(value pg_cpu_us "$PCI1")" - - - -
PCI_SVC_RATIO=$(ratio "${PCI3_SVC:-NA}" "${PCI1_SVC:-NA}")
target_row "CPU per check-in, 3 replicas: service (us)" "${PCI3_SVC:-NA}" "${PCI1_SVC:-NA} (1 replica)" \
  "$PCI_SVC_RATIO" "< 1.20 (flat)" "$(check "$PCI_SVC_RATIO" "<" 1.20)"
row "CPU per check-in, 3 replicas: PostgreSQL (us)" "$(value pg_cpu_us "$PCI3")" \
  "$(value pg_cpu_us "$PCI1") (1 replica)" "$(ratio "$(value pg_cpu_us "$PCI3")" "$(value pg_cpu_us "$PCI1")")" - -
sqlrow() {  # FILE: statements / exec ms / commits / rollbacks per call
  echo "$(value sql_statements "$1") / $(value sql_exec_us "$1") / $(value tx_commits "$1") / $(value tx_rollbacks "$1")"
}
row "SQL per check-in (pg_stat_statements, pg_stat_database): statements / execution (us) / commits / rollbacks, 1 replica; 3 replicas" \
  "$(sqlrow "$PCI1"); $(sqlrow "$PCI3")" - - - -
PFB1_RATE=$(value create_per_s "$PFB1")
PFB1_RATIO=$(ratio "${PFB1_RATE:-NA}" "${PGB_RATE:-NA}")
target_row "CreateFeedback on PostgreSQL, 1 replica, $PG_CLIENTS in flight (calls/s)" "${PFB1_RATE:-NA}" \
  "${PGB_RATE:-NA} (pgbench commits/s)" "$PFB1_RATIO" ">= 0.50" "$(check "$PFB1_RATIO" ">=" 0.50)"
PFB3_RATE=$(value create_per_s "$PFB3")
PFB3_RATIO=$(ratio "${PFB3_RATE:-NA}" "${PFB1_RATE:-NA}")
target_row "CreateFeedback on PostgreSQL, 3 replicas, $PG_CLIENTS in flight (calls/s)" "${PFB3_RATE:-NA}" \
  "${PFB1_RATE:-NA} (1 replica)" "$PFB3_RATIO" ">= 1.00" "$(check "$PFB3_RATIO" ">=" 1.00)"
PFB_ABORTED=$(awk -v a="$(value create_aborted "$PFB1")" -v b="$(value create_aborted "$PFB3")" 'BEGIN {
  if (a == "" || b == "") print "NA"; else print a + b }')
target_row "CreateFeedback on PostgreSQL: ABORTED answers (both runs)" "$PFB_ABORTED" - - "0" \
  "$(check "$PFB_ABORTED" "<" 1)"
row "CreateFeedback on PostgreSQL: failed calls by code, 1 replica / 3 replicas" \
  "$(value create_codes "$PFB1") / $(value create_codes "$PFB3")" - - - -
row "SQL per feedback: statements / execution (us) / commits / rollbacks, 1 replica; 3 replicas" \
  "$(sqlrow "$PFB1"); $(sqlrow "$PFB3")" - - - -
row "CPU per feedback, service / PostgreSQL (us): 1 replica; 3 replicas" \
  "$(value service_cpu_us "$PFB1") / $(value pg_cpu_us "$PFB1"); $(value service_cpu_us "$PFB3") / $(value pg_cpu_us "$PFB3")" \
  - - - -
fi  # pg
echo
echo "targets: $HELD of $TARGETS held${MISSED_NAMES[*]:+; missed or not measured:}"
for m in "${MISSED_NAMES[@]}"; do echo "  - $m"; done
want people &&
  echo "(/metrics process_resident_memory_bytes after the syncs: $(mib "${METRICS_RSS:-0}") MiB)"

if [ "$FAILED" != 0 ]; then
  err "some measures could not be verified (NA above)"
  exit 1
fi
if [ "${BENCH_STRICT:-0}" = 1 ] && [ "$MISSED" != 0 ]; then
  err "a target was missed (BENCH_STRICT=1)"
  exit 1
fi
