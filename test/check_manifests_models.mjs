// Validates Kubernetes objects with kubernetes-models' schemas (the API's
// OpenAPI definitions compiled to JSON Schema: field types, required fields,
// enums), for test/check_manifests.py. Usage:
//   node check_manifests_models.mjs NODE_MODULES_DIR < objects.json
// objects.json: [{"where": "...", "object": {...}}, ...]; prints one JSON line
// per object: {"where", "kind", "ok", "error"} ("skip" when kubernetes-models
// has no such kind, e.g. a CRD's NetworkAttachmentDefinition).
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const modules = process.argv[2];
const items = JSON.parse(readFileSync(0, "utf8"));
for (const { where, object } of items) {
  const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") : [null, object.apiVersion];
  const sub = group ? `${group}/${version}` : version;
  const out = { where, kind: `${object.apiVersion} ${object.kind}` };
  let mod;
  try {
    mod = await import(pathToFileURL(path.join(modules, "kubernetes-models", sub, "index.js")).href);
  } catch {
    out.skip = `kubernetes-models has no ${sub}`;
  }
  if (mod && !mod[object.kind]) out.skip = `kubernetes-models has no ${object.kind} in ${sub}`;
  if (!out.skip) {
    try {
      new mod[object.kind](object).validate();
      out.ok = true;
    } catch (e) {
      out.ok = false;
      out.error = String(e.message || e).slice(0, 800);
    }
  }
  console.log(JSON.stringify(out));
}
