import assert from "node:assert/strict";
import { test } from "node:test";
import { canonical, rootHash, trace } from "./model.mjs";

test("the same seed gives the same trace", () => {
  assert.deepEqual(trace(7), trace(7));
  assert.notDeepEqual(trace(7), trace(8));
});

test("known trace (pinned in tests/check_model.py too)", () => {
  const { steps, final_balance: finalBalance } = trace(1);
  assert.deepEqual(steps, [
    { op: "withdraw", amount: 8, balance: 992 },
    { op: "withdraw", amount: 278, balance: 714 },
    { op: "fee", amount: 10, balance: 704 },
    { op: "fee", amount: 10, balance: 694 },
    { op: "deposit", amount: 608, balance: 1302 },
  ]);
  assert.equal(finalBalance, 1302);
});

test("never overdrawn", () => {
  for (let seed = 0; seed < 20; seed += 1) {
    assert.ok(trace(seed, 50).steps.every((step) => step.balance >= 0));
  }
});

test("canonical JSON sorts keys and ends with a newline", () => {
  assert.equal(canonical({ b: [1, "é"], a: 2 }), '{"a":2,"b":[1,"é"]}\n');
  assert.throws(() => canonical({ a: 0.1 }), TypeError);
});

test("the root hash ignores document order", () => {
  const docs = [1, 2].map((seed) => canonical(trace(seed)));
  assert.equal(rootHash(docs), rootHash([...docs].reverse()));
  assert.match(rootHash(docs), /^sha256:[0-9a-f]{64}$/);
});
