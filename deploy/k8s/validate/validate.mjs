// Validates Kubernetes objects (a JSON array on stdin) against the schemas of
// kubernetes-models, @kubernetes-models/prometheus-operator and
// @kubernetes-models/cloudnative-pg, and rejects keys no schema names.
//
// The packages' validators ignore unknown keys. To find them, each object is
// validated through a Proxy that records which property names the validator
// looks up at each path: the validator looks up every property its schema
// defines (present or not), and enumerates the keys of maps. A key present in
// the object that was neither looked up nor enumerated is unknown. An object
// whose keys the validator never looked at is free-form in its schema
// (x-kubernetes-preserve-unknown-fields) and is not judged.
//
// Prints one line per problem; exits 1 if there is any.
import { readFileSync } from "node:fs";

const PACKAGES = {
  "": "kubernetes-models",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
  "postgresql.cnpg.io": "@kubernetes-models/cloudnative-pg",
};

async function modelFor(apiVersion, kind) {
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const pkg = PACKAGES[group] ?? PACKAGES[""];
  try {
    const mod = await import(`${pkg}/${apiVersion}`);
    return mod[kind];
  } catch {
    return undefined;
  }
}

function traced(value, path, seen) {
  if (value === null || typeof value !== "object") return value;
  const record = { looked: new Set(), enumerated: false, keys: Object.keys(value) };
  seen.set(path, record);
  const children = new Map();
  return new Proxy(value, {
    get(target, prop, receiver) {
      if (typeof prop === "string" && !Array.isArray(target)) record.looked.add(prop);
      const v = Reflect.get(target, prop, receiver);
      if (typeof prop !== "string" || v === null || typeof v !== "object") return v;
      if (!children.has(prop)) children.set(prop, traced(v, `${path}/${prop}`, seen));
      return children.get(prop);
    },
    has(target, prop) {
      if (typeof prop === "string") record.looked.add(prop);
      return Reflect.has(target, prop);
    },
    ownKeys(target) {
      record.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
}

function unknownKeys(seen) {
  const problems = [];
  for (const [path, r] of seen) {
    if (r.enumerated || r.looked.size === 0) continue;
    for (const key of r.keys) {
      if (!r.looked.has(key)) problems.push(`${path}/${key}: unknown key`);
    }
  }
  return problems;
}

const objects = JSON.parse(readFileSync(0, "utf8"));
// kustomize wraps the base64 of generated Secrets at 70 columns; the API
// server's decoder skips line breaks, the schema's "byte" format does not.
for (const obj of objects) {
  if (obj.kind === "Secret" && obj.data) {
    for (const key of Object.keys(obj.data)) obj.data[key] = obj.data[key].replace(/[\r\n]/g, "");
  }
}
const problems = [];
for (const obj of objects) {
  const id = `${obj.kind}/${obj.metadata?.name} (${obj.apiVersion})`;
  const Model = await modelFor(obj.apiVersion ?? "", obj.kind ?? "");
  if (!Model) {
    problems.push(`${id}: no schema for this kind`);
    continue;
  }
  const seen = new Map();
  try {
    Model.prototype.validate.call(traced(obj, "", seen));
  } catch (e) {
    problems.push(`${id}: ${e.message}`);
    continue;
  }
  for (const p of unknownKeys(seen)) problems.push(`${id}: ${p}`);
}
for (const p of problems) console.log(p);
console.error(`validated ${objects.length} objects, ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
