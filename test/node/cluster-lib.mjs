// Helpers of the one-node cluster scripts (cluster-*.mjs), driven by test/cluster/ (`make
// test-cluster`): a script reports JSON lines on stdout and waits for command lines on stdin.
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

// connect opens a stock socket.io-client (WebSocket only, as the node requires).
export function connect(url, token, opts = {}) {
  return io(url, { transports: ["websocket"], auth: { token }, forceNew: true, ...opts });
}

export function once(socket, event, ms = 15000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${event}`)), ms);
    socket.once(event, (arg) => {
      clearTimeout(t);
      resolve(arg);
    });
  });
}

export const connected = (s, ms) => (s.connected ? Promise.resolve() : once(s, "connect", ms));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// report writes one JSON line for the Go test.
export function report(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// Commands from the Go test, one per stdin line.
const lines = [];
const waiters = [];
createInterface({ input: process.stdin }).on("line", (line) => {
  const w = waiters.shift();
  if (w) w(line.trim());
  else lines.push(line.trim());
});

// command resolves with the next stdin line (it must be `expected` when given).
export async function command(expected) {
  const line = lines.length ? lines.shift() : await new Promise((r) => waiters.push(r));
  if (expected && line !== expected) throw new Error(`expected command ${expected}, got ${line}`);
  return line;
}

// connectionsPerPod reads switchboard_connections from every pod's /metrics (podURLs are
// the pods' metrics listeners, port 9090).
export async function connectionsPerPod(podURLs) {
  const counts = {};
  for (const url of podURLs) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const m = text.match(/^switchboard_connections (\S+)$/m);
    counts[url] = m ? Number(m[1]) : 0;
  }
  return counts;
}

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (this script is run by test/cluster, make test-cluster)`);
  return v;
}
