// A socket.io-client on a draining node reconnects by itself through the load balancer
// and rejoins (re-emitting join_room on `connect`, as frontends do); the room sees no
// churn. Started by test/socketio_client_test.go with:
//   LB_URL (load balancer in front of both nodes), NODE2_URL, TRIGGER_URL (drains node 1),
//   TOKEN_ALICE, TOKEN_BOB
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";

const sockets = [];
after(() => sockets.forEach((s) => s.close()));

function once(socket, event, ms = 15000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), ms);
    socket.once(event, (...args) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}

test("a client on a draining node reconnects elsewhere and rejoins without churn", async () => {
  // bob stays on node 2 and watches the room.
  const bob = io(process.env.NODE2_URL, { transports: ["websocket"], auth: { token: process.env.TOKEN_BOB } });
  sockets.push(bob);
  await once(bob, "connect");
  assert.equal((await bob.emitWithAck("join_room", { roomId: "drain-room" })).ok, true);
  const churn = [];
  bob.on("user_left", (e) => churn.push(["user_left", e]));
  bob.on("user_joined", (e) => churn.push(["user_joined", e]));

  // alice comes through the load balancer (lands on node 1) and, like a real frontend,
  // joins her room on every `connect`.
  const alice = io(process.env.LB_URL, { transports: ["websocket"], auth: { token: process.env.TOKEN_ALICE } });
  sockets.push(alice);
  const joins = [];
  alice.on("connect", async () => joins.push(await alice.emitWithAck("join_room", { roomId: "drain-room" })));
  await once(alice, "connect");
  const [joinedEvent] = await once(bob, "user_joined");
  assert.equal(joinedEvent.userId, "alice");
  churn.length = 0;
  while (joins.length < 1) await new Promise((r) => setTimeout(r, 20));

  // A well-behaved client waits the reconnectInMs it is told before reconnecting: it makes
  // that its reconnection delay (no randomization, it is already jittered by the server).
  alice.on("server_draining", ({ reconnectInMs }) => {
    alice.io.reconnectionDelay(reconnectInMs);
    alice.io.randomizationFactor(0);
  });
  const draining = once(alice, "server_draining");
  const disconnected = once(alice, "disconnect");
  const res = await fetch(process.env.TRIGGER_URL, { method: "POST" });
  assert.equal(res.status, 200);
  const [notice] = await draining;
  assert.equal(typeof notice.reconnectInMs, "number");
  const [reason] = await disconnected;
  // A transport close, not a server DISCONNECT: socket.io-client reconnects by itself.
  assert.equal(reason, "transport close");
  await once(alice, "connect");
  while (joins.length < 2) await new Promise((r) => setTimeout(r, 20));
  assert.equal(joins[1].ok, true);
  assert.deepEqual(joins[1].participants.map((p) => p.userId), ["bob"]);

  // alice is reachable again, and bob saw no leave/join for her.
  const chat = once(bob, "chat_message");
  assert.equal((await alice.emitWithAck("chat_message", { content: "back" })).ok, true);
  assert.equal((await chat)[0].senderId, "alice");
  await new Promise((r) => setTimeout(r, 1500)); // past the reconnection window
  assert.deepEqual(churn, []);
});
