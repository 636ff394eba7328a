// Step 6 of test/cluster: two users in an sfu-mode room (through the Service) while the media
// stub goes away and comes back. docs/sfu.md, "P2P fallback": the room switches to p2p
// (room_mode_changed) during the outage and back to sfu when the media service is healthy.
// Env: SERVICE_URL, TOKEN_A, TOKEN_B. Commands: "down", "up" (sent when the Go test scales the
// stub). Reports: {phase:"ready", mode}, {phase:"p2p", ms}, {phase:"sfu", ms}.
import { connect, connected, command, env, report } from "./cluster-lib.mjs";

const service = env("SERVICE_URL");
const room = "media-gate";
const users = [connect(service, env("TOKEN_A")), connect(service, env("TOKEN_B"))];
const modes = users.map(() => []);
users.forEach((s, i) => {
  s.on("room_mode_changed", (e) => e.roomId === room && modes[i].push({ mode: e.mode, at: Date.now() }));
  // Rejoin after a reconnect, like a frontend.
  s.on("connect", () => s.emit("join_room", { roomId: room }, () => {}));
});
await Promise.all(users.map((s) => connected(s)));
const acks = await Promise.all(users.map((s) => s.emitWithAck("join_room", { roomId: room })));
setInterval(() => users.forEach((s) => s.connected && s.emit("heartbeat")), 10000);
report({ phase: "ready", mode: acks.map((a) => a.mode) });

async function waitMode(mode, t0) {
  const deadline = t0 + 90000;
  while (Date.now() < deadline) {
    const seen = modes.map((m) => m.find((x) => x.mode === mode && x.at >= t0));
    if (seen.every(Boolean)) return Math.max(...seen.map((x) => x.at - t0));
    await new Promise((r) => setTimeout(r, 50));
  }
  return -1;
}

await command("down");
report({ phase: "p2p", ms: await waitMode("p2p", Date.now()) });
await command("up");
report({ phase: "sfu", ms: await waitMode("sfu", Date.now()) });
users.forEach((s) => s.disconnect());
process.exit(0);
