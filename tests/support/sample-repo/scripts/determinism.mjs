// Deterministic traces on the JavaScript side.
//   node scripts/determinism.mjs replay build/traces     re-executes every trace
//   node scripts/determinism.mjs root-hash build/traces  prints sha256:<hex>
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { canonical, rootHash, trace } from "../js/model.mjs";

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

function jsonFiles(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...jsonFiles(path));
    else if (entry.name.endsWith(".json")) found.push(path);
  }
  return found.sort();
}

function traceFiles(dir) {
  const files = existsSync(dir) ? jsonFiles(dir) : [];
  if (files.length === 0) fail(`no traces under ${dir}`);
  return files;
}

function load(path) {
  return JSON.parse(readFileSync(path, "utf8"));
}

function replay(dir) {
  const files = traceFiles(dir);
  for (const file of files) {
    const recorded = load(file);
    const replayed = trace(recorded.seed, recorded.steps.length);
    recorded.steps.forEach((step, i) => {
      const want = canonical(step).trim();
      const got = canonical(replayed.steps[i]).trim();
      if (want !== got) fail(`${file}: step ${i} diverges: recorded ${want}, replayed ${got}`);
    });
    if (canonical(recorded) !== canonical(replayed)) {
      fail(`${file}: diverges: recorded ${canonical(recorded)}replayed ${canonical(replayed)}`);
    }
  }
  console.log(`replayed ${files.length} traces: no divergence`);
}

function printRootHash(dir) {
  const files = traceFiles(dir);
  console.log(rootHash(files.map((file) => canonical(load(file)))));
}

const [command, dir] = process.argv.slice(2);
if (!dir) fail("usage: determinism.mjs replay|root-hash DIR");
if (command === "replay") replay(dir);
else if (command === "root-hash") printRootHash(dir);
else fail(`unknown command ${command}`);
