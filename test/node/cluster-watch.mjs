// Step 5 of test/cluster: users on one pod (connected to its pod IP, without reconnection, so they
// stay gone) and a watcher on another pod in the same room. The Go test then deletes the pod or
// SIGKILLs its container; the watcher must hear each victim's user_left exactly once, in time
// (measured from the kill and from the moment each victim's connection dropped).
// Env: WATCH_URL, VICTIM_URL, ROOM, TOKEN_WATCHER, VICTIM_TOKENS (JSON [{user, token}]).
// Commands: "go" (sent right before the kill). Reports: {phase:"ready"}, {phase:"result", ...}.
import { connect, connected, command, env, once, report, sleep } from "./cluster-lib.mjs";

const room = env("ROOM");
const victims = JSON.parse(env("VICTIM_TOKENS"));
const watcher = connect(env("WATCH_URL"), env("TOKEN_WATCHER"), { reconnection: false });
await connected(watcher);
if (!(await watcher.emitWithAck("join_room", { roomId: room })).ok) throw new Error("watcher join failed");

const left = {}; // user -> [ms after the kill, reason]
let t0 = 0;
watcher.on("user_left", (e) => {
  if (e.roomId !== room) return;
  (left[e.userId] ||= []).push({ ms: t0 ? Date.now() - t0 : -1, reason: e.reason });
});

const disconnected = {}; // user -> ms after the kill when their connection dropped
const sockets = [];
for (const { user, token } of victims) {
  const s = connect(env("VICTIM_URL"), token, { reconnection: false });
  sockets.push(s);
  s.on("disconnect", () => (disconnected[user] = t0 ? Date.now() - t0 : -1));
  await connected(s);
  const joined = once(watcher, "user_joined");
  if (!(await s.emitWithAck("join_room", { roomId: room })).ok) throw new Error(`${user} join failed`);
  await joined;
}
// Keep everyone present (presence TTL) until the kill.
const beat = setInterval(() => [watcher, ...sockets].forEach((s) => s.connected && s.emit("heartbeat")), 10000);

report({ phase: "ready" });
await command("go");
t0 = Date.now();
const deadline = t0 + 30000;
while (Date.now() < deadline && !victims.every((v) => left[v.user])) await sleep(50);
await sleep(5000); // a duplicate user_left would arrive in this time
clearInterval(beat);
report({ phase: "result", left, disconnected, watcherConnected: watcher.connected });
watcher.disconnect();
process.exit(0);
