// Drives a Switchboard signaling node with the stock socket.io-client 4.x, the way a
// frontend does. The Go test in test/ starts the node and passes its URL and tokens:
//   SIGNALING_URL, TOKEN_ALICE, TOKEN_BOB, TOKEN_BAD
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";

const url = process.env.SIGNALING_URL;
assert.ok(url, "SIGNALING_URL must be set (run through `make test`)");

const sockets = [];
after(() => sockets.forEach((s) => s.close()));

function connect(opts) {
  const s = io(url, { transports: ["websocket"], reconnection: false, forceNew: true, ...opts });
  sockets.push(s);
  return s;
}

function once(socket, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), ms);
    socket.once(event, (data) => {
      clearTimeout(t);
      resolve(data);
    });
  });
}

const connected = (s) => (s.connected ? Promise.resolve() : once(s, "connect"));

test("connect with the token in the access_token cookie, join, relay an offer, chat", async () => {
  const alice = connect({ extraHeaders: { Cookie: `access_token=${process.env.TOKEN_ALICE}` } });
  const bob = connect({ auth: { token: process.env.TOKEN_BOB } });
  await Promise.all([connected(alice), connected(bob)]);

  const ackA = await alice.emitWithAck("join_room", { roomId: "node-room" });
  assert.equal(ackA.ok, true);
  assert.equal(ackA.roomId, "node-room");
  assert.equal(ackA.mode, "p2p");
  assert.deepEqual(ackA.self, { userId: "alice", name: "Alice" });
  assert.deepEqual(ackA.participants, []);

  const joined = once(alice, "user_joined");
  const ackB = await bob.emitWithAck("join_room", { roomId: "node-room" });
  assert.deepEqual(ackB.participants, [{ userId: "alice", name: "Alice" }]);
  assert.deepEqual(await joined, { roomId: "node-room", userId: "bob", name: "Bob" });

  const sdp = { type: "offer", sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n" };
  const offer = once(bob, "webrtc_offer");
  assert.deepEqual(await alice.emitWithAck("webrtc_offer", { to: "bob", sdp }), { ok: true });
  assert.deepEqual(await offer, { roomId: "node-room", from: "alice", sdp });

  const answer = once(alice, "webrtc_answer");
  bob.emit("webrtc_answer", { to: "alice", sdp: { type: "answer", sdp: "v=0" } });
  assert.equal((await answer).from, "bob");

  const chatA = once(alice, "chat_message");
  const chatB = once(bob, "chat_message");
  const chatAck = await alice.emitWithAck("chat_message", { content: "hello from node" });
  assert.equal(chatAck.ok, true);
  for (const m of [await chatA, await chatB]) {
    assert.equal(m.id, chatAck.id);
    assert.equal(m.senderId, "alice");
    assert.equal(m.content, "hello from node");
    assert.equal(m.timestamp, chatAck.timestamp);
  }

  const err = await alice.emitWithAck("webrtc_offer", { to: "nobody", sdp });
  assert.equal(err.ok, false);
  assert.equal(err.error.code, "target_not_found");

  const errorEvent = once(alice, "error");
  alice.emit("no_such_event", {});
  assert.equal((await errorEvent).code, "unknown_event");

  const left = once(alice, "user_left");
  assert.deepEqual(await bob.emitWithAck("leave_room", {}), { ok: true });
  assert.deepEqual(await left, { roomId: "node-room", userId: "bob", reason: "left" });
});

test("a bad token gets connect_error 'Authentication error'", async () => {
  const s = connect({ auth: { token: process.env.TOKEN_BAD } });
  const err = await once(s, "connect_error");
  assert.equal(err.message, "Authentication error");
  assert.equal(s.connected, false);
});

test("no token at all gets connect_error 'Authentication error'", async () => {
  const s = connect({});
  const err = await once(s, "connect_error");
  assert.equal(err.message, "Authentication error");
});

test("heartbeat is acknowledged", async () => {
  const s = connect({ auth: { token: process.env.TOKEN_ALICE } });
  await connected(s);
  assert.deepEqual(await s.emitWithAck("heartbeat"), { ok: true });
});
