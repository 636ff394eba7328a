// Step 4 of test/cluster: clients connected through the SignalingCluster's Service chat and relay
// while the Deployment rolls every pod. Each client behaves like a frontend: socket.io-client's
// own reconnection, `join_room` again on every `connect`, a heartbeat every 10 s, a chat message
// every CHAT_INTERVAL_MS and an offer to a random room member every RELAY_INTERVAL_MS.
//
// "Lost" = an acknowledged chat message that some member of its room never received, live or in
// the history of a re-join ack (by id) — the definition of docs/benchmarks.md, "Drain and rolling
// restart". "Churn" = any user_left/user_joined seen after the initial joins.
//
// Env: SERVICE_URL, TOKENS_FILE (JSON [{user, token}]), ROOM_SIZE, CHAT_INTERVAL_MS,
// RELAY_INTERVAL_MS. Commands (stdin): start, stop. Reports (stdout): {phase:"ready"},
// {phase:"result", ...}.
import { readFileSync } from "node:fs";
import { connect, command, env, report, sleep } from "./cluster-lib.mjs";

const service = env("SERVICE_URL");
const tokens = JSON.parse(readFileSync(env("TOKENS_FILE"), "utf8"));
const roomSize = Number(process.env.ROOM_SIZE || 5);
const chatEvery = Number(process.env.CHAT_INTERVAL_MS || 2000);
const relayEvery = Number(process.env.RELAY_INTERVAL_MS || 3000);

const stats = {
  acked: 0, chatFailed: 0, relayOk: 0, relayFailed: 0, drainingNotices: 0, disconnects: 0,
  reconnects: 0, joinFailures: 0, churn: [], errors: {},
};
let started = false;
let stopping = false;
const ackedMessages = []; // {id, room, sender}

const clients = tokens.map(({ user, token }, i) => {
  const room = `rollout-${Math.floor(i / roomSize)}`;
  const c = { user, room, joined: false, joins: 0, received: new Set(), socket: null };
  c.members = tokens.slice(Math.floor(i / roomSize) * roomSize, Math.floor(i / roomSize) * roomSize + roomSize).map((t) => t.user);
  const s = connect(service, token, { reconnectionDelay: 500, reconnectionDelayMax: 2000 });
  c.socket = s;
  s.on("connect", async () => {
    if (c.joins > 0) stats.reconnects++;
    try {
      const ack = await s.timeout(15000).emitWithAck("join_room", { roomId: room });
      if (!ack.ok) throw new Error(JSON.stringify(ack.error));
      for (const m of ack.chat || []) c.received.add(m.id);
      c.joins++;
      c.joined = true;
    } catch (e) {
      stats.joinFailures++;
    }
  });
  s.on("disconnect", () => {
    c.joined = false;
    if (started) stats.disconnects++;
  });
  s.on("server_draining", () => started && stats.drainingNotices++);
  s.on("chat_message", (m) => c.received.add(m.id));
  s.on("webrtc_offer", () => {});
  s.on("error", (e) => (stats.errors[e.code] = (stats.errors[e.code] || 0) + 1));
  for (const ev of ["user_left", "user_joined"]) {
    s.on(ev, (e) => started && stats.churn.push({ ev, to: user, ...e }));
  }
  return c;
});

// Every client joined (all rooms complete) before the traffic starts.
for (let i = 0; ; i++) {
  if (clients.every((c) => c.joined)) break;
  if (i > 1200) throw new Error(`only ${clients.filter((c) => c.joined).length}/${clients.length} clients joined`);
  await sleep(100);
}
await sleep(1000); // the last user_joined events arrive before counting churn
report({ phase: "ready", clients: clients.length });
await command("start");
started = true;

function every(ms, fn) {
  const loop = async () => {
    await sleep(Math.random() * ms);
    while (!stopping) {
      await fn();
      await sleep(ms * (0.75 + Math.random() * 0.5));
    }
  };
  return loop();
}

const loops = clients.flatMap((c) => [
  every(chatEvery, async () => {
    if (!c.joined) return;
    try {
      const ack = await c.socket.timeout(15000).emitWithAck("chat_message", { content: `${c.user} ${Date.now()}` });
      if (ack.ok) {
        stats.acked++;
        ackedMessages.push({ id: ack.id, room: c.room, sender: c.user });
        c.received.add(ack.id);
      } else stats.chatFailed++;
    } catch {
      stats.chatFailed++; // no ack: never acknowledged, so never counted as lost
    }
  }),
  every(relayEvery, async () => {
    if (!c.joined) return;
    const others = c.members.filter((m) => m !== c.user);
    const to = others[Math.floor(Math.random() * others.length)];
    try {
      const ack = await c.socket.timeout(15000).emitWithAck("webrtc_offer", { to, sdp: { type: "offer", sdp: "v=0" } });
      ack.ok ? stats.relayOk++ : stats.relayFailed++;
    } catch {
      stats.relayFailed++;
    }
  }),
  every(10000, async () => {
    if (c.joined) c.socket.emit("heartbeat");
  }),
]);

await command("stop");
stopping = true;
await Promise.all(loops);
await sleep(3000); // deliveries in flight

const byUser = new Map(clients.map((c) => [c.user, c]));
let lost = 0;
const lostSamples = [];
for (const m of ackedMessages) {
  const room = clients.find((c) => c.room === m.room);
  const missing = room.members.filter((u) => !byUser.get(u).received.has(m.id));
  if (missing.length) {
    lost++;
    if (lostSamples.length < 5) lostSamples.push({ ...m, missing });
  }
}
const stillJoined = clients.filter((c) => c.joined).length;
for (const c of clients) c.socket.disconnect();
report({
  phase: "result", clients: clients.length, stillJoined, acked: stats.acked, lost, lostSamples,
  chatFailed: stats.chatFailed, relayOk: stats.relayOk, relayFailed: stats.relayFailed,
  drainingNotices: stats.drainingNotices, disconnects: stats.disconnects, reconnects: stats.reconnects,
  joinFailures: stats.joinFailures, churn: stats.churn.length, churnSamples: stats.churn.slice(0, 5),
  errors: stats.errors,
});
process.exit(0);
