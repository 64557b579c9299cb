#!/usr/bin/env bash
# Feedback on a running suite (make run, then import the sample roster): the
# CEO recognises an engineering manager in public, a report reacts, and the
# company's recognition feed shows it.
#
#   examples/feedback-demo.sh [PEOPLE_ADDR] [FEEDBACK_ADDR] [JWT_SECRET_FILE] [BUILD_DIR]
set -euo pipefail
PEOPLE=${1:-127.0.0.1:50051}
FEEDBACK=${2:-127.0.0.1:50053}
SECRET=${3:-var/dev-jwt.secret}
BUILD=${4:-build}
. "$(dirname "$0")/common.sh"

call() {  # AS METHOD JSON
  SIGHTLINE_TOKEN=$1 "$CLI" call "$FEEDBACK" "sightline.feedback.v1.FeedbackService/$2" "$3"
}

CEO_EMAIL=maya.okafor@example.com
EM_EMAIL=ana.souza@example.com
EM=$(person "$EM_EMAIL")
[ -n "$EM" ] || { echo "import examples/roster.csv first" >&2; exit 1; }

PRAISE=$(call "$(token "$CEO_EMAIL")" CreateFeedback "{\"feedback\":{\"subject\":\"$EM\",\"kind\":\"PRAISE\",\"visibility\":\"PUBLIC\",\"body\":\"Self-serve billing shipped a week early\",\"values\":[\"customer-first\"]}}" | field name)
echo "recognition: $PRAISE"
call "$(token "$EM_EMAIL")" ReactToRecognition "{\"name\":\"$PRAISE\",\"reaction\":\"CELEBRATE\"}" > /dev/null
echo "company feed:"
call "$(token "$EM_EMAIL")" ListRecognition '{"page_size":5}'
