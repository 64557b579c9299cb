#!/usr/bin/env bash
# KPIs on a running suite (make run, then import the sample roster): the CEO
# tracks orders and visits (monthly sums) and their conversion rate, a derived
# KPI with a target for this month, loads 30 days of daily counts from a CSV
# file, and reads the conversion's status and a weekly series.
#
#   examples/metrics-demo.sh [PEOPLE_ADDR] [METRICS_ADDR] [JWT_SECRET_FILE] [BUILD_DIR]
set -euo pipefail
PEOPLE=${1:-127.0.0.1:50051}
METRICS=${2:-127.0.0.1:50054}
SECRET=${3:-var/dev-jwt.secret}
BUILD=${4:-build}
. "$(dirname "$0")/common.sh"

call() {  # AS METHOD JSON
  SIGHTLINE_TOKEN=$1 "$CLI" call "$METRICS" "sightline.metrics.v1.MetricsService/$2" "$3"
}

CEO_EMAIL=maya.okafor@example.com
CEO=$(person "$CEO_EMAIL")
[ -n "$CEO" ] || { echo "import examples/roster.csv first" >&2; exit 1; }
AS=$(token "$CEO_EMAIL")

# Creates kpis/ID unless it exists (the demo may run again).
kpi() {  # ID JSON-OF-THE-KPI
  if call "$AS" GetKpi "{\"name\":\"kpis/$1\"}" > /dev/null 2>&1; then
    echo "kpis/$1 (already there)"
  else
    call "$AS" CreateKpi "{\"kpi_id\":\"$1\",\"request_id\":\"metrics-demo-$1\",\"kpi\":$2}" | field name
  fi
}
COMMON="\"owner_person\":\"$CEO\",\"direction\":\"HIGHER_IS_BETTER\",\"period\":\"MONTH\",\"cadence\":\"86400s\",\"perspective\":\"CUSTOMER\",\"visibility\":\"PUBLIC\""
kpi orders "{\"display_name\":\"Orders\",\"format\":\"NUMBER\",\"aggregation\":\"SUM\",$COMMON}"
kpi visits "{\"display_name\":\"Visits\",\"format\":\"NUMBER\",\"aggregation\":\"SUM\",$COMMON}"
# This month: 5% is the aim, under 4% is amber, under 3% red.
MONTH=$(date -u +%Y-%m-01)
NEXT=$(date -u -d "$MONTH +1 month" +%Y-%m-01)
kpi conversion "{\"display_name\":\"Conversion\",\"format\":\"PERCENT\",\"formula\":\"orders / visits\",$COMMON,\"targets\":[{\"start_time\":\"${MONTH}T00:00:00Z\",\"end_time\":\"${NEXT}T00:00:00Z\",\"value\":0.05,\"amber_threshold\":0.04,\"red_threshold\":0.03}]}"

# 30 days of daily counts up to today; the same file imports only once.
CSV=$(mktemp --suffix=.csv)
trap 'rm -f "$CSV"' EXIT
echo "kpi,time,value,source" > "$CSV"
for i in $(seq 29 -1 0); do
  day=$(date -u -d "-$i day" +%F)
  visits=$((900 + (i * 37) % 200))
  orders=$((visits * (38 + i % 9) / 1000))
  echo "visits,$day,$visits,web-analytics" >> "$CSV"
  echo "orders,$day,$orders,shop" >> "$CSV"
done
SIGHTLINE_TOKEN=$AS "$CLI" import-datapoints "$METRICS" "$CSV"

echo "conversion this month:"
call "$AS" GetKpiStatus '{"name":"kpis/conversion"}'
# Weeks from the Monday on or before the first day loaded.
FIRST=$(date -u -d "-29 day" +%F)
MONDAY=$(date -u -d "$FIRST -$(( $(date -u -d "$FIRST" +%u) - 1 )) day" +%F)
END=$(date -u -d "+1 day" +%F)
echo "conversion by week:"
call "$AS" QueryKpi "{\"kpi\":\"kpis/conversion\",\"start_time\":\"${MONDAY}T00:00:00Z\",\"end_time\":\"${END}T00:00:00Z\",\"step\":\"604800s\"}"
