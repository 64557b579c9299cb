#!/usr/bin/python3
"""Writes the seed corpora (fuzz/corpus/<target>/seed-*): a few well-formed
inputs per target, from which the fuzzer mutates. Request seeds are text
protos encoded with protoc. Run from anywhere; rewrites only seed-* files."""

import base64
import hashlib
import hmac
import os
import pathlib
import subprocess

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"


def write(target, seeds):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("seed-*"):
        old.unlink()
    for i, data in enumerate(seeds):
        if isinstance(data, str):
            data = data.encode()
        (d / f"seed-{i}").write_bytes(data)


def encode(message, text):
    return subprocess.run(
        ["protoc", f"-I{ROOT}", f"-I{ROOT}/proto", "-I/usr/include",
         f"--encode={message}", "fuzz/inputs.proto"],
        input=text.encode(), capture_output=True, check=True, cwd=ROOT).stdout


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


# The keys the targets use (fuzz/tokens.cc, fuzz/jwt.cc).
TOKEN_KEY = b"k" * 32
JWT_SECRET = b"s" * 32


def token(kind, payload):
    body = kind + b"\n" + payload
    mac = hmac.new(TOKEN_KEY, body, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(body + mac)


def jwt(claims):
    head = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(claims)
    return head + b"." + b64(hmac.new(JWT_SECRET, head, hashlib.sha256).digest())


def string_field(number, value):
    value = value.encode()
    return bytes([number << 3 | 2, len(value)]) + value


CLAIMS = (b'{"sub":"people/p1","iss":"https://id.example.com",'
          b'"aud":["sightline"],"exp":1796003600,"nbf":1795999000,'
          b'"roles":["manager","hr_admin"]}')

write("fuzz_get_person_request", [
    b"\x00" + string_field(1, "people/a1b2c3"),
    b"\x02" + string_field(1, "people/abcdefghij0123456789"),
    b"\x01" + string_field(1, "teams/t1"),
])
write("fuzz_get_goal_request", [
    b"\x00" + string_field(1, "goals/g1"),
    # as_of: seconds 1700000000, nanos 5
    b"\x03" + string_field(1, "goals/g-2") + b"\x12\x08\x08\x80\xe2\xcf\xaa\x06\x10\x05",
])
write("fuzz_resource_names", [
    "people/p1", "teams/t-1", "goals/g1/keyResults/k1", "kpis/revenue",
    "cycles/2026-q1", "goals//keyResults/k1",
])
write("fuzz_tokens", [
    token(b"page:ListGoals",
          hashlib.sha256(b"a|b").hexdigest()[:16].encode() + b"\ng42"),
    token(b"resume:people", b"17"),
    b"not-a-token",
])
write("fuzz_jwt", [
    b"\x00" + jwt(CLAIMS),
    b"\x01" + CLAIMS,
    b"\x01" + b'{"sub":"svc","exp":1796003600.5,"roles":"service",'
              b'"aud":"sightline","iss":"https://id.example.com"}',
    b"\x00" + b64(b'{"alg":"none"}') + b"." + b64(CLAIMS) + b".",
])
write("fuzz_roster_csv", [(ROOT / "examples/roster.csv").read_bytes(),
    "employee_id,email,first_name,last_name,department,status\r\n"
    "E1,\"a@example.com\",\"Ann \"\"A\"\"\",Lee,\"R&D, Labs\",T\r\n"])
write("fuzz_datapoints_csv", [
    "kpi,time,value,dimension,source\n"
    "kpis/revenue,2026-01-31T23:59:59.250Z,1250.5,region=eu,import\n"
    "signups,2026-02-01,42,,\n",
    "kpi,time,value\n\"k1\",2026-03-01T00:00:00+02:00,-1e3\n",
])
write("fuzz_kpi_formula", [
    "revenue / max(headcount, 1)",
    "(won_deals * 100) / (won_deals + lost_deals)",
    "a_b > 0 ? sqrt(a_b) : -a_b",
    "sum(q1, q2, q3, q4) / 4",
])
write("fuzz_people_requests", [
    encode("sightline.fuzz.PeopleInput", """
requests { options { mode: FULL request_id: "sync-1" effective_date: "2026-11-30" } }
requests { team { external_id: "Engineering" display_name: "Engineering" lead_external_id: "E1" } }
requests { team { external_id: "Platform" display_name: "Platform" parent_external_id: "Engineering" } }
requests { person { external_id: "E1" email: "ann@example.com" display_name: "Ann Lee"
  title: "VP" team_external_id: "Engineering" status: ACTIVE start_date: "2020-01-06"
  roles: "manager" source_row: 2 } }
requests { person { external_id: "E2" email: "bo@example.com" display_name: "Bo Chen"
  team_external_id: "Platform" manager_external_id: "E1" start_date: "2021-02-01" } }
requests { person { external_id: "E3" email: "cy@example.com" display_name: "Cy"
  manager_external_id: "E2" status: TERMINATED start_date: "2021-02-01" end_date: "2026-06-30" } }
"""),
    encode("sightline.fuzz.PeopleInput", """
requests { options { mode: INCREMENTAL dry_run: true } }
requests { person { external_id: "X9" email: "x9@example.com" display_name: "X" } }
"""),
])
write("fuzz_goals_requests", [
    encode("sightline.fuzz.GoalsInput", """
create_goal { request_id: "r1" goal { title: "Ship v2" description: "The whole of it"
  owner: "people/p1" contributors: "people/p2" level: TEAM cycle: "cycles/c1"
  start_date: "2026-01-01" due_date: "2026-03-31" parent: "goals/g0" weight: 2
  visibility: TEAM tags: "launch" }
  key_results { title: "Users" measure: NUMBER direction: INCREASE baseline: 10 target: 100 unit: "users" }
  key_results { title: "Done" measure: BOOLEAN } }"""),
    encode("sightline.fuzz.GoalsInput", """
update_goal { goal { name: "goals/g1" title: "New" due_date: "2026-04-30" etag: "e" }
  update_mask { paths: "title" paths: "due_date" } reason: "moved" }"""),
    encode("sightline.fuzz.GoalsInput", """
create_cycle { request_id: "c" cycle { display_name: "Q1" start_date: "2026-01-01" end_date: "2026-03-31" } }"""),
    encode("sightline.fuzz.GoalsInput", """
create_key_result { parent: "goals/g1" key_result { name: "goals/g1/keyResults/k1" title: "Revenue"
  measure: CURRENCY currency_code: "EUR" direction: INCREASE target: 1e6 stretch_target: 2e6 kpi: "kpis/revenue" } }"""),
    encode("sightline.fuzz.GoalsInput", """
update_key_result { key_result { name: "goals/g1/keyResults/k1" target: 5 current: 2 }
  update_mask { paths: "target" paths: "current" } }"""),
    encode("sightline.fuzz.GoalsInput", """
create_check_in { parent: "goals/g1" request_id: "ci"
  check_in { values { key_result: "goals/g1/keyResults/k1" value: 3.5 } confidence: 0.7 status: AT_RISK note: "slow" } }"""),
    encode("sightline.fuzz.GoalsInput", """
batch_create_goals { team: "teams/t1" request_id: "b" template { title: "Learn" due_date: "2026-12-31" }
  key_results { title: "Courses" target: 3 } }"""),
])
write("fuzz_metrics_requests", [
    encode("sightline.fuzz.MetricsInput", """
create_kpi { kpi_id: "revenue" request_id: "r" kpi { display_name: "Revenue" owner_team: "teams/t1"
  format: CURRENCY currency_code: "EUR" direction: HIGHER_IS_BETTER aggregation: SUM period: MONTH
  cadence { seconds: 86400 } perspective: FINANCIAL visibility: PUBLIC dimension_keys: "region"
  targets { start_time { seconds: 1767225600 } end_time { seconds: 1775001600 } value: 1e6
    amber_threshold: 8e5 red_threshold: 5e5 } } }"""),
    encode("sightline.fuzz.MetricsInput", """
create_kpi { kpi_id: "margin" kpi { display_name: "Margin" format: PERCENT
  formula: "(revenue - cost) / max(revenue, 1) * 100" } }"""),
    encode("sightline.fuzz.MetricsInput", """
update_kpi { kpi { name: "kpis/revenue" display_name: "Net revenue" band { low: 1 high: 2 } direction: IN_RANGE }
  update_mask { paths: "display_name" } }"""),
    encode("sightline.fuzz.MetricsInput", """
write_points { request_id: "w" points { kpi: "kpis/revenue" time { seconds: 1767225600 nanos: 5 } value: 12.5
  dimension: "region=eu" source: "import" } points { kpi: "kpis/signups" time { seconds: 1 } value: 1 } }"""),
])
write("fuzz_feedback_requests", [
    encode("sightline.fuzz.FeedbackInput", """
create_feedback { request_id: "f1" feedback { subject: "people/p2" kind: PRAISE body: "Great demo"
  goal: "goals/g1" key_result: "goals/g1/keyResults/k1" competencies: "communication"
  values: "ownership" visibility: SUBJECT_AND_MANAGERS } }
now_micros: 1796000000000000 relationship: 1"""),
    encode("sightline.fuzz.FeedbackInput", """
create_feedback { feedback { author: "people/p3" subject: "people/p2" kind: CONSTRUCTIVE body: "x"
  anonymous: true visibility: SUBJECT_ONLY request: "feedbackRequests/q1" } } relationship: 2"""),
    encode("sightline.fuzz.FeedbackInput", """
create_feedback_request { request_id: "q" feedback_request { subject: "people/p2"
  responders { person: "people/p3" } responders { person: "people/p4" } responders { person: "people/p5" }
  prompt: "How did the launch go?" questions: "What went well?"
  due_time { seconds: 1797000000 } allow_anonymous: true } }
now_micros: 1796000000000000 anonymity_floor: 3"""),
])
