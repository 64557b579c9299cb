#!/usr/bin/env bash
# `make run`: starts redis-server and every Sightline service on loopback with
# embedded SQLite databases under ./var, waits until each reports SERVING, and
# prints how to call them. Ctrl-C (or SIGTERM) stops everything it started and
# keeps ./var for the next run.
set -euo pipefail

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VAR="$ROOT/var"
mkdir -p "$VAR/log" "$VAR/redis"
CLI="$ROOT/$BUILD/tools/cli/sightline"

# name  binary  preferred gRPC port  preferred metrics port (in start order:
# a service may call those started before it)
SERVICES=(
  "people $BUILD/services/people/sightline-people 50051 9451"
  "metrics $BUILD/services/metrics/sightline-metrics 50054 9454"
  "goals $BUILD/services/goals/sightline-goals 50052 9452"
  "feedback $BUILD/services/feedback/sightline-feedback 50053 9453"
)

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p=$1
  while port_busy "$p"; do p=$((p + 1)); done
  echo "$p"
}

SECRET="$VAR/dev-jwt.secret"
if [ ! -s "$SECRET" ]; then
  umask 077
  openssl rand -hex 32 > "$SECRET"
fi
# Page and resume tokens signed with one key kept across restarts, so that a
# Watch resumes after a service is restarted.
TOKEN_KEY="$VAR/dev-token.key"
if [ ! -s "$TOKEN_KEY" ]; then
  (umask 077 && openssl rand -hex 32 > "$TOKEN_KEY")
fi

PIDS=()
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[$i]}" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "stopped; data kept in $VAR"
  exit 0
}
trap stop_all INT TERM EXIT

REDIS_PORT=$(free_port 6390)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$VAR/redis" --daemonize no > "$VAR/log/redis.log" 2>&1 &
PIDS+=($!)

# Every address first: metrics calls goals and feedback (for scorecards),
# which start after it.
declare -A ADDR METRICS GPORT MPORT
taken=" "
for entry in "${SERVICES[@]}"; do
  read -r name bin gport mport <<< "$entry"
  for kind in g m; do
    [ $kind = g ] && p=$gport || p=$mport
    p=$(free_port "$p")
    while [[ "$taken" == *" $p "* ]]; do p=$(free_port $((p + 1))); done
    taken+="$p "
    [ $kind = g ] && GPORT[$name]=$p || MPORT[$name]=$p
  done
  ADDR[$name]="127.0.0.1:${GPORT[$name]}"
done
# The people service's SCIM endpoint (HTTP) for identity providers.
SCIM_PORT=$(free_port 8451)
while [[ "$taken" == *" $SCIM_PORT "* ]]; do SCIM_PORT=$(free_port $((SCIM_PORT + 1))); done
taken+="$SCIM_PORT "
for entry in "${SERVICES[@]}"; do
  read -r name bin _ _ <<< "$entry"
  gport=${GPORT[$name]}
  mport=${MPORT[$name]}
  extra=()
  [ "$name" = people ] && extra=(--scim_port="$SCIM_PORT")
  [ "$name" = goals ] && extra=(--people_address="${ADDR[people]}"
    --metrics_service_address="${ADDR[metrics]}")
  [ "$name" = feedback ] && extra=(--people_address="${ADDR[people]}"
    --goals_address="${ADDR[goals]}")
  [ "$name" = metrics ] && extra=(--people_address="${ADDR[people]}"
    --goals_address="${ADDR[goals]}" --feedback_address="${ADDR[feedback]}")
  "$ROOT/$bin" \
    --grpc_address="127.0.0.1:$gport" --metrics_address="127.0.0.1:$mport" \
    --db="$VAR/$name.db" --redis="redis://127.0.0.1:$REDIS_PORT" \
    --jwt_key_file="$SECRET" --token_key_file="$TOKEN_KEY" "${extra[@]}" >> "$VAR/log/$name.log" 2>&1 &
  PIDS+=($!)
  ADDR[$name]="127.0.0.1:$gport"
  METRICS[$name]="http://127.0.0.1:$mport/metrics"
  ok=""
  for _ in $(seq 1 100); do
    if "$CLI" health "${ADDR[$name]}" > /dev/null 2>&1; then ok=1; break; fi
    sleep 0.1
  done
  if [ -z "$ok" ]; then
    echo "$name did not become SERVING; its log:" >&2
    tail -20 "$VAR/log/$name.log" >&2
    exit 1
  fi
done

ADMIN_TOKEN=$("$CLI" token --key_file="$SECRET" --subject=tom.fischer@example.com \
  --roles=hr_admin --ttl=24h)

cat <<INFO

Sightline is running (Ctrl-C stops it; data stays in var/).

  redis     127.0.0.1:$REDIS_PORT
INFO
for entry in "${SERVICES[@]}"; do
  read -r name _ <<< "$entry"
  printf '  %-9s gRPC %s   metrics %s   log var/log/%s.log\n' \
    "$name" "${ADDR[$name]}" "${METRICS[$name]}" "$name"
done
printf '  %-9s %s\n' scim "http://127.0.0.1:$SCIM_PORT/scim/v2"
cat <<INFO

A development token (hr_admin, 24 h):
  export SIGHTLINE_TOKEN=$ADMIN_TOKEN

Import the sample roster:
  $BUILD/tools/cli/sightline import-roster ${ADDR[people]} examples/roster.csv

Or provision people as an identity provider does (SCIM 2.0):
  curl -s -H "Authorization: Bearer \$SIGHTLINE_TOKEN" 'http://127.0.0.1:$SCIM_PORT/scim/v2/Users?filter=userName%20eq%20%22kenji.watanabe@example.com%22'

Then look someone up:
  $BUILD/tools/cli/sightline call ${ADDR[people]} sightline.people.v1.PeopleService/LookupPerson '{"email":"kenji.watanabe@example.com"}'

And set a first goal tree (a cycle, a company goal, a team goal, a check-in):
  examples/goals-demo.sh ${ADDR[people]} ${ADDR[goals]} var/dev-jwt.secret $BUILD

And give someone public recognition, then read the company feed:
  examples/feedback-demo.sh ${ADDR[people]} ${ADDR[feedback]} var/dev-jwt.secret $BUILD

And track KPIs (orders, visits, a conversion rate with a target; a month of points from a CSV file):
  examples/metrics-demo.sh ${ADDR[people]} ${ADDR[metrics]} var/dev-jwt.secret $BUILD

INFO

wait -n "${PIDS[@]}" || true
echo "a process exited on its own; see var/log/" >&2
stop_all
