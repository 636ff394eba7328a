// Step 7 of test/cluster: after a JWT key rotation, which tokens does the Service accept?
// Env: SERVICE_URL, TOKENS (comma-separated). Reports {results: ["connected"|"rejected", ...]}.
import { connect, env, report } from "./cluster-lib.mjs";

const results = [];
for (const token of env("TOKENS").split(",")) {
  const s = connect(env("SERVICE_URL"), token, { reconnection: false });
  results.push(
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("neither connect nor connect_error within 15 s")), 15000);
      s.once("connect", () => (clearTimeout(t), resolve("connected")));
      s.once("connect_error", () => (clearTimeout(t), resolve("rejected")));
    }),
  );
  s.disconnect();
}
report({ results });
process.exit(0);
