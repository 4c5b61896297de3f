// k6 smoke test: the service is up and answers the model's traces.
//   k6 run --vus 10 --duration 1m -e TARGET_URL=http://... tests/k6/smoke.js
// P95_MS (default 500) sets the latency threshold.
import http from "k6/http";
import { check, sleep } from "k6";

const base = (__ENV.TARGET_URL || "").replace(/\/+$/, "");
if (!base) {
  throw new Error("TARGET_URL is not set");
}

export const options = {
  thresholds: {
    http_req_failed: ["rate<0.01"],
    http_req_duration: [`p(95)<${__ENV.P95_MS || 500}`],
  },
};

export default function () {
  const health = http.get(`${base}/healthz`);
  check(health, { "healthz is 200": (r) => r.status === 200 });
  const seed = (__ITER % 3) + 1;
  const trace = http.get(`${base}/api/trace?seed=${seed}`, {
    tags: { name: "/api/trace" },
  });
  check(trace, {
    "trace is 200": (r) => r.status === 200,
    "trace has the seed": (r) => r.status === 200 && r.json("seed") === seed,
  });
  sleep(0.1);
}
