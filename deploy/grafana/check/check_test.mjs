// The dashboard check refuses what it is meant to refuse: each case breaks a
// copy of a real dashboard in one way and expects check.mjs to fail naming it.
//
//   node check_test.mjs NODE_MODULES_DIR WORK_DIR DASHBOARD.json
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const [nodeModules, workDir, dashboard] = process.argv.slice(2);
const check = path.join(path.dirname(fileURLToPath(import.meta.url)), "check.mjs");
const original = JSON.parse(fs.readFileSync(dashboard, "utf8"));
const firstPanel = (d) => d.panels.find((p) => p.type === "timeseries");

const cases = [
  // Passes the JSON checks; promtool refuses it below.
  ["a query that does not parse passes the JSON checks", (d) => { firstPanel(d).targets[0].expr = "sum by (service (rate(x[5m]))"; }, null],
  ["an unknown dashboard key", (d) => { d.refreshRate = "1m"; }, /refreshRate/],
  ["a wrong type", (d) => { d.editable = "yes"; }, /not assignable to type 'boolean/],
  ["an enum value the schema does not have",
    (d) => { firstPanel(d).fieldConfig.defaults.custom.drawStyle = "zigzag"; }, /zigzag/],
  ["a required panel option missing", (d) => { delete firstPanel(d).options.tooltip; }, /tooltip/],
  ["a misspelt query key", (d) => {
    const t = firstPanel(d).targets[0];
    t.legendFormt = t.legendFormat;
    delete t.legendFormat;
  }, /unknown key legendFormt/],
  ["an undefined variable", (d) => { firstPanel(d).targets[0].expr += ' + on() vector($nosuch)'; },
    /undefined variable \$nosuch/],
  ["a repeated panel id", (d) => { d.panels[2].id = d.panels[1].id; }, /id used twice/],
  ["a panel off the grid", (d) => { firstPanel(d).gridPos.x = 20; }, /24-column grid/],
  ["a panel on a fixed data source", (d) => { firstPanel(d).datasource = { type: "prometheus", uid: "prod" }; },
    /is not the \$\{datasource\} variable/],
];

// One run of the check over every broken copy (one compiler run): each copy's
// errors are told apart by its file name.
let failed = 0;
fs.rmSync(workDir, { recursive: true, force: true });
fs.mkdirSync(workDir, { recursive: true });
const files = cases.map(([, mutate], i) => {
  const d = structuredClone(original);
  d.uid = `${d.uid}-case${i}`;
  mutate(d);
  const file = path.join(workDir, `case${i}.json`);
  fs.writeFileSync(file, JSON.stringify(d, null, 2));
  return file;
});
const out = path.join(workDir, "out");
const r = spawnSync(process.execPath, [check, nodeModules, out, ...files], { encoding: "utf8" });
const byCase = new Map();
let owner = null;
for (const line of (r.stdout + r.stderr).split("\n")) {
  const m = /case(\d+)\.(?:json:|ts\()/.exec(line);
  if (m) owner = Number(m[1]);
  if (owner !== null) byCase.set(owner, (byCase.get(owner) ?? "") + line + "\n");
}
if (r.status !== 1) {
  failed++;
  console.log(`FAIL the check passed broken dashboards (exit ${r.status})`);
}
cases.forEach(([name, , expected], i) => {
  const text = byCase.get(i) ?? "";
  const ok = expected === null ? text === "" : expected.test(text);
  console.log(`${ok ? "ok  " : "FAIL"} ${name}`);
  if (!ok) {
    failed++;
    console.log(text || "(no error reported)");
  }
});

// The query that is not PromQL passes the JSON checks and is caught by
// promtool on the generated rules file (the second half of grafana_dashboards).
const p = spawnSync("promtool", ["check", "rules", path.join(out, "dashboard-queries.rules.yml")], { encoding: "utf8" });
const parseOk = p.status !== 0 && /dashboard:case0:query_\d+": could not parse expression/.test(p.stdout + p.stderr);
console.log(`${parseOk ? "ok  " : "FAIL"} a query that does not parse is refused by promtool`);
if (!parseOk) {
  failed++;
  console.log(p.stdout + p.stderr);
}

process.exit(failed === 0 ? 0 : 1);
