#!/usr/bin/env node
// Vendor pruned GitHub API descriptions into tests/github/ (test data for the GitHub emulator).
//
// Usage (from anywhere; paths are relative to the repository root):
//   node scripts/vendor-github-schemas.mjs            # install pinned packages if needed, regenerate
//   node scripts/vendor-github-schemas.mjs --check    # regenerate in memory, fail if files differ
//   options: --npm-dir DIR    where the npm packages live (default: target/vendor-npm)
//            --index PATH     operation index TSV (default: tests/github/openapi/operations.tsv)
//            --no-install     never run npm; fail if the pinned packages are not already there
//
// Node 20, ESM, standard library only. The npm packages are installed with
// `npm install --prefix <npm-dir>` into a throwaway directory (never into the repository's tree).
// Output is deterministic: JSON with 2-space indentation, keys in source order, trailing newline,
// no timestamps.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// Pinned package versions. Bump deliberately, then regenerate and review the diff.
const PACKAGES = {
  "@octokit/openapi": "23.0.2",
  "@octokit/openapi-webhooks": "12.1.0",
  "@octokit/webhooks-examples": "7.6.1",
};

// Operations kept in addition to those of the index TSV (looked up by operationId; skipped with a
// note when the description does not have them).
const EXTRA_OPERATION_IDS = [
  "issues/create",
  "issues/get",
  "issues/update",
  "issues/list-for-repo",
  "pulls/list-files",
  "reactions/create-for-issue",
  "actions/get-workflow-run",
  "actions/list-workflow-runs-for-repo",
  "actions/cancel-workflow-run",
  "repos/get-branch",
  "users/get-authenticated",
  // Review requests and inline review comments (the emulator's review threads).
  "pulls/request-reviewers",
  "pulls/list-requested-reviewers",
  "pulls/list-review-comments",
  "pulls/list-comments-for-review",
];
// Kept too when present (GitHub's REST description normally does not describe GraphQL).
const EXTRA_ROUTES = [["post", "/graphql"]];

// Webhook payloads whose schemas are extracted (keys of `webhooks` in @octokit/openapi-webhooks).
const WEBHOOKS = [
  "issue-comment-created",
  "issue-comment-edited",
  "issue-comment-deleted",
  "pull-request-closed",
];
// Webhook example events copied verbatim from @octokit/webhooks-examples.
const EXAMPLE_EVENTS = ["issue_comment"];

const OUT_OPENAPI = "tests/github/openapi/api.github.com.pruned.json";
const OUT_WEBHOOKS = "tests/github/webhooks/schemas.json";
const OUT_EXAMPLES_DIR = "tests/github/webhooks/examples";
const SIZE_BUDGET = 3 * 1024 * 1024; // whole tests/github/ must stay below this

const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

// ---------------------------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = {
    npmDir: path.join(ROOT, "target/vendor-npm"),
    index: path.join(ROOT, "tests/github/openapi/operations.tsv"),
    install: true,
    check: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--npm-dir") opts.npmDir = path.resolve(argv[++i]);
    else if (a === "--index") opts.index = path.resolve(argv[++i]);
    else if (a === "--no-install") opts.install = false;
    else if (a === "--check") opts.check = true;
    else if (a === "-h" || a === "--help") {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n").slice(1, 11).join("\n"));
      process.exit(0);
    } else fail(`unknown argument: ${a}`);
  }
  return opts;
}

function fail(msg) {
  console.error(`vendor-github-schemas: error: ${msg}`);
  process.exit(1);
}

function installedVersion(npmDir, pkg) {
  try {
    return JSON.parse(fs.readFileSync(path.join(npmDir, "node_modules", pkg, "package.json"), "utf8")).version;
  } catch {
    return null;
  }
}

function ensurePackages(opts) {
  const wrong = () => Object.entries(PACKAGES).filter(([p, v]) => installedVersion(opts.npmDir, p) !== v);
  if (wrong().length === 0) return;
  if (!opts.install) {
    fail(`pinned packages missing from ${opts.npmDir}: ${wrong().map(([p, v]) => `${p}@${v}`).join(", ")}`);
  }
  fs.mkdirSync(opts.npmDir, { recursive: true });
  const specs = Object.entries(PACKAGES).map(([p, v]) => `${p}@${v}`);
  const args = ["install", "--prefix", opts.npmDir, "--no-save", "--package-lock=false", "--no-audit",
    "--no-fund", "--ignore-scripts", ...specs];
  console.error(`vendor-github-schemas: npm ${args.join(" ")}`);
  execFileSync("npm", args, { stdio: ["ignore", process.stderr, process.stderr] });
  const still = wrong();
  if (still.length) fail(`npm did not install ${still.map(([p, v]) => `${p}@${v}`).join(", ")}`);
}

// Strip insignificant whitespace from JSON text (outside strings).
function minify(raw) {
  let out = "";
  let inStr = false;
  let esc = false;
  let from = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (inStr) {
      if (esc) esc = false;
      else if (c === 92 /* \ */) esc = true;
      else if (c === 34 /* " */) inStr = false;
    } else if (c === 34) inStr = true;
    else if (c === 32 || c === 10 || c === 13 || c === 9) {
      out += raw.slice(from, i);
      from = i + 1;
    }
  }
  return out + raw.slice(from);
}

// Load JSON and prove that JSON.parse lost nothing we care about: the compact re-serialization must
// equal the source text minus whitespace. This guarantees source key order (JS objects would move
// integer-like keys such as "200" first), exact numbers and string escapes.
function loadJson(file) {
  const raw = fs.readFileSync(file, "utf8");
  const value = JSON.parse(raw);
  if (JSON.stringify(value) !== minify(raw)) {
    fail(`${file}: JSON.parse/stringify does not round-trip (key order, numbers or escapes would change)`);
  }
  return value;
}

const pretty = (v) => JSON.stringify(v, null, 2) + "\n";

// --- $ref closure ---------------------------------------------------------------------------------

function collectRefs(node, out) {
  if (Array.isArray(node)) {
    for (const v of node) collectRefs(v, out);
  } else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else collectRefs(v, out);
    }
  }
}

const decodePointerToken = (t) => t.replace(/~1/g, "/").replace(/~0/g, "~");

// Returns {kind: Set(names)} of every component reachable from `roots` through $ref.
function componentClosure(doc, roots, label) {
  const kept = new Map();
  const queue = [];
  collectRefs(roots, queue);
  while (queue.length) {
    const ref = queue.pop();
    if (!ref.startsWith("#/components/")) fail(`${label}: unsupported $ref ${JSON.stringify(ref)}`);
    const parts = ref.slice(2).split("/").map(decodePointerToken);
    const [, kind, name] = parts;
    const target = doc.components?.[kind]?.[name];
    if (target === undefined) fail(`${label}: dangling $ref ${ref} in the source`);
    if (!kept.has(kind)) kept.set(kind, new Set());
    if (kept.get(kind).has(name)) continue;
    kept.get(kind).add(name);
    collectRefs(target, queue);
  }
  // Source order for kinds and for names inside each kind.
  const components = {};
  for (const kind of Object.keys(doc.components ?? {})) {
    const names = kept.get(kind);
    if (!names) continue;
    components[kind] = {};
    for (const name of Object.keys(doc.components[kind])) {
      if (names.has(name)) components[kind][name] = doc.components[kind][name];
    }
  }
  return components;
}

function countComponents(components) {
  const per = Object.entries(components).map(([k, v]) => [k, Object.keys(v).length]);
  return { total: per.reduce((n, [, c]) => n + c, 0), per };
}

// Keep only the tags some kept operation uses (source order); undefined when none is used.
function usedTags(doc, operations) {
  const used = new Set(operations.flatMap((op) => op.tags ?? []));
  const tags = (doc.tags ?? []).filter((t) => used.has(t.name));
  return tags.length ? tags : undefined;
}

function provenance(pkg, file, extra) {
  return {
    source: `npm ${pkg}@${PACKAGES[pkg]} ${file}`,
    generator: "scripts/vendor-github-schemas.mjs",
    ...extra,
  };
}

// --- REST description -----------------------------------------------------------------------------

function readIndex(file) {
  const rows = [];
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line.trim() || line.startsWith("#")) continue;
    const [method, route, operationId] = line.split("\t");
    if (!method || !route || !operationId) fail(`${file}: malformed line ${JSON.stringify(line)}`);
    rows.push({ method: method.toLowerCase(), route, operationId });
  }
  if (!rows.length) fail(`${file}: no operations`);
  return rows;
}

function buildOpenapi(src, indexRows) {
  const wanted = new Set(); // "method route"
  const notes = [];
  for (const { method, route, operationId } of indexRows) {
    const op = src.paths[route]?.[method];
    if (!op) fail(`index operation ${method.toUpperCase()} ${route} (${operationId}) is not in the description`);
    if (op.operationId !== operationId) {
      fail(`${method.toUpperCase()} ${route} is ${op.operationId} in the description, the index says ${operationId}`);
    }
    wanted.add(`${method} ${route}`);
  }
  const byId = new Map();
  for (const [route, item] of Object.entries(src.paths)) {
    for (const m of HTTP_METHODS) if (item[m]?.operationId) byId.set(item[m].operationId, `${m} ${route}`);
  }
  const extrasKept = [];
  const missing = [];
  for (const id of EXTRA_OPERATION_IDS) {
    if (byId.has(id)) {
      if (!wanted.has(byId.get(id))) extrasKept.push(id);
      wanted.add(byId.get(id));
    } else missing.push(id);
  }
  for (const [m, route] of EXTRA_ROUTES) {
    if (src.paths[route]?.[m]) {
      wanted.add(`${m} ${route}`);
      extrasKept.push(`${m.toUpperCase()} ${route}`);
    } else missing.push(`${m.toUpperCase()} ${route}`);
  }
  if (missing.length) notes.push(`not in the description, skipped: ${missing.join(", ")}`);

  const paths = {};
  const operations = [];
  for (const [route, item] of Object.entries(src.paths)) {
    if (!HTTP_METHODS.some((m) => item[m] && wanted.has(`${m} ${route}`))) continue;
    const kept = {};
    for (const [k, v] of Object.entries(item)) {
      if (HTTP_METHODS.includes(k)) {
        if (!wanted.has(`${k} ${route}`)) continue;
        operations.push(v);
      }
      kept[k] = v; // path-level keys (parameters, summary, ...) stay with any kept operation
    }
    paths[route] = kept;
  }
  if (operations.length !== wanted.size) fail(`internal: kept ${operations.length} operations, wanted ${wanted.size}`);

  const components = componentClosure(src, paths, "openapi");
  const out = {};
  for (const [k, v] of Object.entries(src)) {
    if (k === "paths") out.paths = paths;
    else if (k === "components") out.components = components;
    else if (k === "tags") {
      const t = usedTags(src, operations);
      if (t) out.tags = t;
    } else if (k === "x-webhooks") continue; // webhooks are vendored separately (tests/github/webhooks)
    else if (k === "info") {
      out.info = {
        ...v,
        "x-git-mission-pruned": provenance("@octokit/openapi", "generated/api.github.com.json", {
          kept: "operations of tests/github/openapi/operations.tsv plus extras listed in the generator, and the components they reach through $ref",
          dropped: ["x-webhooks", "unused tags", "unreachable components"],
        }),
      };
    } else out[k] = v;
  }
  return { doc: out, operations: operations.length, fromIndex: indexRows.length, extrasKept, notes, components };
}

// --- Webhook schemas ------------------------------------------------------------------------------

function buildWebhooks(src) {
  const webhooks = {};
  const operations = [];
  for (const [name, item] of Object.entries(src.webhooks ?? {})) {
    if (!WEBHOOKS.includes(name)) continue;
    webhooks[name] = item;
    for (const m of HTTP_METHODS) if (item[m]) operations.push(item[m]);
  }
  const absent = WEBHOOKS.filter((w) => !(w in webhooks));
  if (absent.length) fail(`webhooks not in @octokit/openapi-webhooks: ${absent.join(", ")}`);
  const components = componentClosure(src, webhooks, "webhooks");
  const out = {};
  for (const [k, v] of Object.entries(src)) {
    if (k === "webhooks") out.webhooks = webhooks;
    else if (k === "components") out.components = components;
    else if (k === "paths") continue; // (absent in 12.1.0) REST paths are not webhook schemas
    else if (k === "tags") {
      const t = usedTags(src, operations);
      if (t) out.tags = t;
    } else if (k === "info") {
      out.info = {
        ...v,
        "x-git-mission-pruned": provenance("@octokit/openapi-webhooks", "generated/api.github.com.json", {
          kept: `webhooks ${WEBHOOKS.join(", ")} and the components they reach through $ref`,
          payloadSchemas: Object.fromEntries(
            WEBHOOKS.map((w) => [w, webhooks[w].post?.requestBody?.content?.["application/json"]?.schema?.$ref ?? null]),
          ),
        }),
      };
    } else out[k] = v;
  }
  return { doc: out, webhooks: Object.keys(webhooks).length, components };
}

// --- Webhook examples -----------------------------------------------------------------------------

function buildExamples(index) {
  const files = new Map(); // relative name -> text
  const summary = [];
  for (const event of EXAMPLE_EVENTS) {
    const entry = index.find((e) => e.name === event);
    if (!entry) fail(`@octokit/webhooks-examples has no ${event} examples`);
    const counters = {};
    let onPr = 0;
    for (const ex of entry.examples) {
      if (!ex || typeof ex !== "object" || Array.isArray(ex) || typeof ex.action !== "string") {
        fail(`${event}: an example is not an object with an action`);
      }
      const n = (counters[ex.action] = (counters[ex.action] ?? 0) + 1);
      if (ex.issue?.pull_request) onPr++;
      files.set(`${event}.${ex.action}.${n}.json`, pretty(ex));
    }
    summary.push(`${event}: ${entry.examples.length} (${Object.entries(counters).map(([a, c]) => `${a} ${c}`).join(", ")}; on a pull request: ${onPr})`);
  }
  return { files, summary };
}

// --- main -----------------------------------------------------------------------------------------

function main() {
  const opts = parseArgs(process.argv.slice(2));
  ensurePackages(opts);
  const pkgDir = (p) => path.join(opts.npmDir, "node_modules", p);

  const rest = buildOpenapi(
    loadJson(path.join(pkgDir("@octokit/openapi"), "generated/api.github.com.json")),
    readIndex(opts.index),
  );
  const hooks = buildWebhooks(loadJson(path.join(pkgDir("@octokit/openapi-webhooks"), "generated/api.github.com.json")));
  const examples = buildExamples(loadJson(path.join(pkgDir("@octokit/webhooks-examples"), "api.github.com/index.json")));

  const outputs = new Map([
    [OUT_OPENAPI, pretty(rest.doc)],
    [OUT_WEBHOOKS, pretty(hooks.doc)],
  ]);
  for (const [name, text] of examples.files) outputs.set(path.posix.join(OUT_EXAMPLES_DIR, name), text);

  // Example files of the vendored events that this run does not produce are stale.
  const exDir = path.join(ROOT, OUT_EXAMPLES_DIR);
  const pattern = new RegExp(`^(${EXAMPLE_EVENTS.join("|")})\\.[a-z_]+\\.[0-9]+\\.json$`);
  const stale = fs.existsSync(exDir)
    ? fs.readdirSync(exDir).filter((f) => pattern.test(f) && !examples.files.has(f)).map((f) => path.posix.join(OUT_EXAMPLES_DIR, f))
    : [];

  const total = [...outputs.values()].reduce((n, t) => n + Buffer.byteLength(t), 0);
  if (total > SIZE_BUDGET) {
    fail(`generated files total ${total} bytes, over the ${SIZE_BUDGET}-byte budget for tests/github/`);
  }

  if (opts.check) {
    const diff = [...outputs].filter(([f, t]) => !fs.existsSync(path.join(ROOT, f)) || fs.readFileSync(path.join(ROOT, f), "utf8") !== t).map(([f]) => f);
    diff.push(...stale);
    if (diff.length) fail(`out of date (rerun without --check): ${diff.join(", ")}`);
  } else {
    for (const f of stale) fs.rmSync(path.join(ROOT, f));
    for (const [f, t] of outputs) {
      fs.mkdirSync(path.dirname(path.join(ROOT, f)), { recursive: true });
      fs.writeFileSync(path.join(ROOT, f), t);
    }
  }

  const fmt = (c) => `${c.total} components (${c.per.map(([k, n]) => `${k} ${n}`).join(", ")})`;
  const bytes = (f) => Buffer.byteLength(outputs.get(f));
  console.log(`${OUT_OPENAPI}: ${rest.operations} operations (${rest.fromIndex} from the index, ${rest.extrasKept.length} extra), ${fmt(countComponents(rest.components))}, ${bytes(OUT_OPENAPI)} bytes`);
  for (const n of rest.notes) console.log(`  note: ${n}`);
  console.log(`${OUT_WEBHOOKS}: ${hooks.webhooks} webhooks (${WEBHOOKS.join(", ")}), ${fmt(countComponents(hooks.components))}, ${bytes(OUT_WEBHOOKS)} bytes`);
  const exBytes = [...examples.files.values()].reduce((n, t) => n + Buffer.byteLength(t), 0);
  console.log(`${OUT_EXAMPLES_DIR}/: ${examples.files.size} example payloads, ${examples.summary.join("; ")}, ${exBytes} bytes`);
  if (stale.length) console.log(`  ${opts.check ? "stale" : "removed stale"}: ${stale.join(", ")}`);
  console.log(`total: ${total} bytes${opts.check ? " (up to date)" : ""}`);
}

main();
