// The SFU producer lifecycle as the stock socket.io-client 4.x sees it, against a node with
// a Media Service (the Go test in test/ starts both and passes SIGNALING_URL, TOKEN_ALICE,
// TOKEN_BOB, TOKEN_CAROL).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";

const url = process.env.SIGNALING_URL;
assert.ok(url, "SIGNALING_URL must be set (run through `make test`)");

const sockets = [];
after(() => sockets.forEach((s) => s.close()));

function connect(token) {
  const s = io(url, { auth: { token }, reconnection: false, forceNew: true });
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
const rtpParameters = { codecs: [{ mimeType: "video/VP8", payloadType: 96 }], encodings: [{ ssrc: 1 }] };

test("producer announced once; pause, resume, restart ICE and close reach the room", async () => {
  const alice = connect(process.env.TOKEN_ALICE);
  const bob = connect(process.env.TOKEN_BOB);
  await Promise.all([connected(alice), connected(bob)]);
  assert.deepEqual((await alice.emitWithAck("join_room", { roomId: "conf" })).producers, []);
  await bob.emitWithAck("join_room", { roomId: "conf" });

  const newProducers = [];
  bob.on("sfu_new_producer", (p) => newProducers.push(p.producerId));
  const send = await alice.emitWithAck("sfu_create_transport", { direction: "send" });
  assert.equal(send.ok, true);
  const transportId = send.transport.id;
  const announced = once(bob, "sfu_new_producer");
  const prod = await alice.emitWithAck("sfu_produce", { transportId, kind: "video", rtpParameters });
  assert.equal(prod.ok, true);
  await announced;

  // A receive transport opened later does not announce the producer again.
  assert.equal((await bob.emitWithAck("sfu_create_transport", { direction: "recv" })).ok, true);
  assert.deepEqual(newProducers, [prod.producerId]);

  const paused = once(bob, "sfu_producer_paused");
  assert.deepEqual(await alice.emitWithAck("sfu_pause_producer", { producerId: prod.producerId }), { ok: true });
  assert.deepEqual(await paused, { roomId: "conf", producerId: prod.producerId, userId: "alice" });

  const carol = connect(process.env.TOKEN_CAROL);
  await connected(carol);
  const ackC = await carol.emitWithAck("join_room", { roomId: "conf" });
  assert.deepEqual(ackC.producers, [{ producerId: prod.producerId, userId: "alice", kind: "video", paused: true }]);

  const resumed = once(bob, "sfu_producer_resumed");
  assert.deepEqual(await alice.emitWithAck("sfu_resume_producer", { producerId: prod.producerId }), { ok: true });
  assert.deepEqual(await resumed, { roomId: "conf", producerId: prod.producerId, userId: "alice" });

  const ice = await alice.emitWithAck("sfu_restart_ice", { transportId });
  assert.equal(ice.ok, true);
  assert.match(ice.iceParameters.usernameFragment, /^restarted/);

  // Bob cannot touch alice's producer.
  const denied = await bob.emitWithAck("sfu_close_producer", { producerId: prod.producerId });
  assert.equal(denied.ok, false);
  assert.equal(denied.error.code, "forbidden");

  const closedB = once(bob, "sfu_producer_closed");
  const closedC = once(carol, "sfu_producer_closed");
  assert.deepEqual(await alice.emitWithAck("sfu_close_producer", { producerId: prod.producerId }), { ok: true });
  assert.deepEqual(await closedB, { roomId: "conf", producerId: prod.producerId, userId: "alice" });
  assert.equal((await closedC).producerId, prod.producerId);
});
