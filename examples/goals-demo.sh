#!/usr/bin/env bash
# A first goal tree on a running suite (make run, then import the sample
# roster): a cycle, a company goal, a team goal with a key result aligned to
# it, a check-in by the team's manager, and the alignment tree with progress
# rolled up to the company goal.
#
#   examples/goals-demo.sh [PEOPLE_ADDR] [GOALS_ADDR] [JWT_SECRET_FILE] [BUILD_DIR]
set -euo pipefail
PEOPLE=${1:-127.0.0.1:50051}
GOALS=${2:-127.0.0.1:50052}
SECRET=${3:-var/dev-jwt.secret}
BUILD=${4:-build}
. "$(dirname "$0")/common.sh"

call() {  # AS METHOD JSON
  SIGHTLINE_TOKEN=$1 "$CLI" call "$GOALS" "sightline.goals.v1.GoalService/$2" "$3"
}

HR=$(token tom.fischer@example.com hr_admin)
CEO_EMAIL=maya.okafor@example.com
EM_EMAIL=ana.souza@example.com
CEO=$(person "$CEO_EMAIL")
EM=$(person "$EM_EMAIL")
[ -n "$CEO" ] && [ -n "$EM" ] || { echo "import examples/roster.csv first" >&2; exit 1; }

YEAR=$(date -u +%Y)
CYCLE=$(call "$HR" CreateCycle "{\"cycle\":{\"display_name\":\"$YEAR\",\"start_date\":\"$YEAR-01-01\",\"end_date\":\"$YEAR-12-31\",\"state\":\"ACTIVE\"}}" | field name)
echo "cycle:        $CYCLE"
COMPANY=$(call "$(token "$CEO_EMAIL")" CreateGoal "{\"goal\":{\"title\":\"Grow ARR 30%\",\"owner\":\"$CEO\",\"level\":\"COMPANY\",\"cycle\":\"$CYCLE\",\"progress_source\":\"CHILDREN\"}}" | field name)
echo "company goal: $COMPANY"
TEAM=$(call "$(token "$CEO_EMAIL")" CreateGoal "{\"goal\":{\"title\":\"Ship self-serve billing\",\"owner\":\"$EM\",\"level\":\"TEAM\",\"cycle\":\"$CYCLE\",\"parent\":\"$COMPANY\"},\"key_results\":[{\"title\":\"Signups per week\",\"measure\":\"NUMBER\",\"direction\":\"INCREASE\",\"baseline\":100,\"target\":300}]}" | field name)
echo "team goal:    $TEAM"
KR=$(call "$(token "$EM_EMAIL")" ListKeyResults "{\"parent\":\"$TEAM\"}" | field name)
call "$(token "$EM_EMAIL")" CreateCheckIn "{\"parent\":\"$TEAM\",\"check_in\":{\"values\":[{\"key_result\":\"$KR\",\"value\":200}],\"confidence\":0.7,\"status\":\"ON_TRACK\",\"note\":\"Halfway to 300 signups a week\"}}" >/dev/null
echo "checked in:   signups 100 -> 200 of 300"
echo
echo "alignment tree of the company ($CYCLE):"
call "$(token "$CEO_EMAIL")" GetAlignmentTree "{\"company\":true,\"cycle\":\"$CYCLE\"}"
