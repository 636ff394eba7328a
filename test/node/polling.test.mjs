// The stock socket.io-client with default options (HTTP long-polling, then the upgrade to
// WebSocket), polling only, and upgrade:false, through a round-robin proxy without
// affinity in front of three nodes: every request of a session may land on another node.
// Started by test/polling_test.go with LB_URL, KILL_URL (?node=<id> crashes a node) and
// TOKEN_<user>.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";

const sockets = [];
after(() => sockets.forEach((s) => s.close()));

function once(emitter, event, ms = 15000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}

function client(user, opts = {}) {
  const s = io(process.env.LB_URL, { auth: { token: process.env["TOKEN_" + user] }, ...opts });
  sockets.push(s);
  return s;
}

// ownerOf names the node that owns a polling session (its sid's suffix).
function ownerOf(sid) {
  return Buffer.from(sid.slice(sid.lastIndexOf(".") + 1), "base64url").toString();
}

// pair connects two clients, joins them to room and relays an offer and a chat message.
async function callAndChat(a, b, userA, userB, room) {
  assert.equal((await a.emitWithAck("join_room", { roomId: room })).ok, true);
  const joined = once(a, "user_joined");
  assert.equal((await b.emitWithAck("join_room", { roomId: room })).ok, true);
  assert.equal((await joined)[0].userId, userB);

  const offer = once(b, "webrtc_offer");
  const sdp = { type: "offer", sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n" + "a=x\r\n".repeat(50) };
  assert.equal((await a.emitWithAck("webrtc_offer", { to: userB, sdp })).ok, true);
  const [got] = await offer;
  assert.equal(got.from, userA);
  assert.deepEqual(got.sdp, sdp);

  for (const [from, to, text] of [[b, a, "hello from " + userB], [a, b, "hi from " + userA]]) {
    const heard = once(to, "chat_message");
    assert.equal((await from.emitWithAck("chat_message", { content: text })).ok, true);
    assert.equal((await heard)[0].content, text);
  }
}

test("default options: connect over polling, upgrade, join, relay an offer, chat", async () => {
  const alice = client("alice");
  const bob = client("bob");
  await Promise.all([once(alice, "connect"), once(bob, "connect")]);
  for (const s of [alice, bob]) {
    if (s.io.engine.transport.name !== "websocket") await once(s.io.engine, "upgrade");
    assert.equal(s.io.engine.transport.name, "websocket");
    assert.match(s.io.engine.id, /\./, "a polling sid names its owner");
  }
  await callAndChat(alice, bob, "alice", "bob", "rr-default");
});

test('transports:["polling"]: never upgrades, works across nodes', async () => {
  const carol = client("carol", { transports: ["polling"] });
  const dave = client("dave", { transports: ["polling"] });
  await Promise.all([once(carol, "connect"), once(dave, "connect")]);
  await callAndChat(carol, dave, "carol", "dave", "rr-polling");
  assert.equal(carol.io.engine.transport.name, "polling");
  assert.equal(dave.io.engine.transport.name, "polling");
});

test("upgrade:false: stays on polling, works across nodes", async () => {
  const erin = client("erin", { upgrade: false });
  const frank = client("frank", { upgrade: false });
  await Promise.all([once(erin, "connect"), once(frank, "connect")]);
  await callAndChat(erin, frank, "erin", "frank", "rr-noupgrade");
  assert.equal(erin.io.engine.transport.name, "polling");
  assert.equal(frank.io.engine.transport.name, "polling");
});

test("a node killed while it owns a polling session: the client gets a new session on another node", async () => {
  // Frontends join their room on every connect.
  const joinOnConnect = (s) => s.on("connect", () => s.emit("join_room", { roomId: "rr-kill" }));
  const grace = client("grace", { transports: ["polling"], reconnectionDelay: 200, reconnectionDelayMax: 500 });
  const heidi = client("heidi", { reconnectionDelay: 200, reconnectionDelayMax: 500 });
  joinOnConnect(grace);
  joinOnConnect(heidi);
  await Promise.all([once(grace, "connect"), once(heidi, "connect")]);
  const sid = grace.io.engine.id;
  const owner = ownerOf(sid);

  // The client may be back before the kill request returns (stopping the node takes a
  // while): listen for the reconnect as soon as the disconnect is seen.
  const back = once(grace, "disconnect", 20000).then(() => once(grace, "connect", 20000));
  const res = await fetch(process.env.KILL_URL + "?node=" + owner);
  assert.equal(res.status, 200);
  await back;
  assert.notEqual(grace.io.engine.id, sid);
  assert.notEqual(ownerOf(grace.io.engine.id), owner, "the new session is on a live node");

  // Both are (back) in the room: chat flows (heidi may have been on the killed node too).
  for (;;) {
    const heard = once(heidi, "chat_message", 3000).catch(() => null);
    const ack = await grace.timeout(3000).emitWithAck("chat_message", { content: "back" }).catch(() => null);
    if (ack?.ok && (await heard)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
});
