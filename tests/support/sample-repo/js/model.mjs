// The aos model in JavaScript: the twin of app/model.py, value for value.
import { createHash } from "node:crypto";

export const SCHEMA = "aos.trace/1";
const OPS = ["deposit", "withdraw", "fee"];
const FEE = 10;
const OPENING = 1000;

// xorshift32 from a seed spread by Knuth's multiplicative hash.
export function* draws(seed) {
  let state = Math.imul(seed, 2654435761) >>> 0 || 1;
  for (;;) {
    state = (state ^ (state << 13)) >>> 0;
    state = (state ^ (state >>> 17)) >>> 0;
    state = (state ^ (state << 5)) >>> 0;
    yield state;
  }
}

export function step(balance, draw) {
  const op = OPS[draw % OPS.length];
  let amount = ((draw >>> 8) % 1000) + 1;
  if (op === "deposit") {
    balance += amount;
  } else {
    amount = Math.min(op === "withdraw" ? amount : FEE, balance);
    balance -= amount;
  }
  return { op, amount, balance };
}

export function trace(seed, steps = 5) {
  if (!Number.isInteger(steps) || steps < 1 || steps > 100) {
    throw new RangeError(`steps must be within 1..100, not ${steps}`);
  }
  let balance = OPENING;
  const recorded = [];
  for (const draw of draws(seed)) {
    if (recorded.length === steps) break;
    const entry = step(balance, draw);
    balance = entry.balance;
    recorded.push(entry);
  }
  return { schema: SCHEMA, seed, steps: recorded, final_balance: balance };
}

function encode(value) {
  if (Array.isArray(value)) return `[${value.map(encode).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${encode(value[k])}`).join(",")}}`;
  }
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    throw new TypeError(`${value}: only safe integers have a canonical form here`);
  }
  return JSON.stringify(value);
}

// Sorted keys, no insignificant whitespace, trailing newline (UTF-8 when written).
export function canonical(value) {
  return `${encode(value)}\n`;
}

const sha256 = (data) => createHash("sha256").update(data).digest("hex");

// sha256 over the sorted sha256 digests of canonical documents (strings).
export function rootHash(documents) {
  const digests = documents.map((doc) => sha256(Buffer.from(doc, "utf8"))).sort();
  return `sha256:${sha256(digests.map((d) => `${d}\n`).join(""))}`;
}
