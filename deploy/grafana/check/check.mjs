// Checks the Grafana dashboards in deploy/grafana/*.json:
//
//   node check.mjs NODE_MODULES_DIR OUT_DIR DASHBOARD.json...
//
// 1. Each dashboard, each panel's options and each panel's custom field config
//    are type-checked by the TypeScript compiler against the types of
//    @grafana/schema (Dashboard, and the options of timeseries, stat,
//    bargauge and state-timeline panels): a misspelt key, a missing required
//    field or a value of the wrong type fails. The JSON is written into a .ts
//    file as object literals, so excess keys are errors; string enums of the
//    schema are compared by their values.
// 2. Rules the types cannot say: unique panel ids, every panel on the
//    dashboard's data source variable, every query with a refId and an
//    expression, every $variable defined, the grid 24 columns wide.
// 3. Writes OUT_DIR/dashboard-queries.json (every panel and variable query,
//    template variables replaced) and OUT_DIR/dashboard-queries.rules.yml (the
//    same as recording rules) for `promtool check rules` and the live test.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const [nodeModules, outDir, ...files] = process.argv.slice(2);
if (!nodeModules || !outDir || files.length === 0) {
  console.error("usage: node check.mjs NODE_MODULES_DIR OUT_DIR DASHBOARD.json...");
  process.exit(2);
}

const PANEL_TYPES = {
  timeseries: "TimeSeriesPanelCfg_types.gen",
  stat: "StatPanelCfg_types.gen",
  bargauge: "BarGaugePanelCfg_types.gen",
  "state-timeline": "StateTimelinePanelCfg_types.gen",
};
const FOLDER = {
  timeseries: "timeseries",
  stat: "stat",
  bargauge: "bargauge",
  "state-timeline": "statetimeline",
};
// Keys of a Prometheus panel query (Grafana's PromQuery).
const PROMETHEUS_QUERY_KEYS = new Set([
  "refId", "datasource", "expr", "legendFormat", "range", "instant", "editorMode", "format",
  "interval", "intervalFactor", "exemplar", "hide", "queryType",
]);
// Values Grafana itself gives these variables when it runs a query.
const BUILTINS = { __rate_interval: "1m", __interval: "1m", __range: "1h" };

const errors = [];
const fail = (file, msg) => errors.push(`${path.basename(file)}: ${msg}`);

function substitute(expr, variables) {
  return expr.replace(/\$\{?(\w+)\}?/g, (m, name) => {
    if (name in BUILTINS) return BUILTINS[name];
    if (variables.has(name)) return ".+";
    return m;
  });
}

// label_values(SELECTOR, label) as the PromQL Grafana sends for it.
function variableExpr(v) {
  const q = typeof v.query === "string" ? v.query : v.query?.query ?? "";
  const m = /^label_values\((.*),\s*(\w+)\)$/s.exec(q.trim());
  if (!m) return null;
  return { selector: m[1], label: m[2] };
}

const queries = [];
const tsFiles = [];
// Beside node_modules so that the compiler finds @grafana/schema; one folder
// per run, as two checks may run at once.
const genDir = path.join(nodeModules, "..", `gen-${process.pid}`);
fs.mkdirSync(genDir, { recursive: true });
fs.mkdirSync(outDir, { recursive: true });
const uids = new Set();

for (const file of files) {
  let d;
  try {
    d = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    fail(file, `not JSON: ${e.message}`);
    continue;
  }
  const base = path.basename(file, ".json");
  if (!d.uid) fail(file, "no uid");
  if (uids.has(d.uid)) fail(file, `uid ${d.uid} used twice`);
  uids.add(d.uid);

  const vars = d.templating?.list ?? [];
  const varNames = new Set(vars.map((v) => v.name));
  if (!vars.some((v) => v.type === "datasource" && v.query === "prometheus")) {
    fail(file, "no Prometheus data source variable");
  }
  for (const v of vars) {
    if (v.type !== "query") continue;
    const lv = variableExpr(v);
    if (!lv) {
      fail(file, `variable ${v.name}: query is not label_values(selector, label)`);
      continue;
    }
    queries.push({
      dashboard: base,
      panel: `variable ${v.name}`,
      refId: "var",
      expr: substitute(lv.selector, varNames),
      label: lv.label,
    });
  }

  const lines = [
    `import type * as schema from "@grafana/schema";`,
    ...Object.entries(PANEL_TYPES).map(
      ([type, mod]) =>
        `import type * as ${FOLDER[type]} from "@grafana/schema/dist/esm/raw/composable/${FOLDER[type]}/panelcfg/x/${mod}";`,
    ),
    `// String enums of the schema accept their values, as JSON spells them.`,
    `type Json<T> = T extends string ? \`\${T}\` : T extends number | boolean | null | undefined ? T : T extends Array<infer U> ? Array<Json<U>> : T extends object ? { [K in keyof T]: Json<T[K]> } : T;`,
    `export const dashboard: Json<schema.Dashboard> = ${JSON.stringify(d, null, 2)};`,
  ];

  const ids = new Set();
  const panels = (d.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
  for (const p of panels) {
    const where = `panel ${p.id} "${p.title}"`;
    if (typeof p.id !== "number") fail(file, `${where}: no numeric id`);
    if (ids.has(p.id)) fail(file, `${where}: id used twice`);
    ids.add(p.id);
    const g = p.gridPos;
    if (!g || g.x < 0 || g.w < 1 || g.x + g.w > 24 || g.h < 1) {
      fail(file, `${where}: gridPos outside the 24-column grid`);
    }
    if (p.type === "row") continue;
    if (!(p.type in PANEL_TYPES)) {
      fail(file, `${where}: panel type ${p.type} is not one this check knows`);
      continue;
    }
    if (p.datasource?.uid !== "${datasource}") {
      fail(file, `${where}: data source is not the \${datasource} variable`);
    }
    if (!p.description) fail(file, `${where}: no description`);
    if (!Array.isArray(p.targets) || p.targets.length === 0) {
      fail(file, `${where}: no queries`);
      continue;
    }
    const refIds = new Set();
    for (const t of p.targets) {
      // The schema types a query as any record: the Prometheus query's keys
      // are checked here.
      for (const key of Object.keys(t)) {
        if (!PROMETHEUS_QUERY_KEYS.has(key)) fail(file, `${where}: query ${t.refId} has unknown key ${key}`);
      }
      if (typeof t.legendFormat !== "string") fail(file, `${where}: query ${t.refId} has no legendFormat`);
      if (!t.refId || refIds.has(t.refId)) fail(file, `${where}: missing or repeated refId`);
      refIds.add(t.refId);
      if (typeof t.expr !== "string" || !t.expr.trim()) {
        fail(file, `${where}: query ${t.refId} has no expr`);
        continue;
      }
      for (const [, name] of t.expr.matchAll(/\$\{?(\w+)\}?/g)) {
        if (!(name in BUILTINS) && !varNames.has(name)) {
          fail(file, `${where}: query ${t.refId} uses undefined variable $${name}`);
        }
      }
      queries.push({
        dashboard: base,
        panel: p.title,
        refId: t.refId,
        expr: substitute(t.expr, varNames),
      });
    }
    const ns = FOLDER[p.type];
    lines.push(`export const options_${p.id}: Json<${ns}.Options> = ${JSON.stringify(p.options ?? {}, null, 2)};`);
    if (p.fieldConfig?.defaults?.custom && ns !== "stat" && ns !== "bargauge") {
      lines.push(
        `export const custom_${p.id}: Json<${ns}.FieldConfig> = ${JSON.stringify(p.fieldConfig.defaults.custom, null, 2)};`,
      );
    }
  }
  const tsFile = path.join(genDir, `${base}.ts`);
  fs.writeFileSync(tsFile, lines.join("\n") + "\n");
  tsFiles.push(tsFile);
}

if (tsFiles.length > 0) {
  const tsc = path.join(nodeModules, "typescript", "bin", "tsc");
  try {
    execFileSync(
      process.execPath,
      [tsc, "--noEmit", "--strict", "--skipLibCheck", "--target", "es2020", "--module", "nodenext",
        "--moduleResolution", "nodenext", ...tsFiles],
      { stdio: "pipe", encoding: "utf8" },
    );
  } catch (e) {
    errors.push(`type check against @grafana/schema failed:\n${e.stdout}${e.stderr}`);
  }
}
fs.rmSync(genDir, { recursive: true, force: true });

fs.writeFileSync(path.join(outDir, "dashboard-queries.json"), JSON.stringify(queries, null, 2) + "\n");
const rules = ["groups:"];
for (const base of [...new Set(queries.map((q) => q.dashboard))]) {
  rules.push(`  - name: dashboard-${base}`, "    rules:");
  queries
    .filter((q) => q.dashboard === base)
    .forEach((q, i) => {
      // A selector alone is a valid expression too (variable queries).
      const record = `dashboard:${base.replace(/\W/g, "_")}:query_${i}`;
      rules.push(`      - record: ${record}`, `        expr: ${JSON.stringify(q.expr)}`);
    });
}
fs.writeFileSync(path.join(outDir, "dashboard-queries.rules.yml"), rules.join("\n") + "\n");

if (errors.length > 0) {
  for (const e of errors) console.error(e);
  process.exit(1);
}
console.log(`${files.length} dashboards, ${queries.length} queries: valid`);
