// The connection cap and the relay rate limit as a browser's socket.io-client 4.x sees
// them. test/caps_test.go starts a node with --max-connections 2 and a per-target relay
// burst of 3, and passes SIGNALING_URL, TOKEN_ALICE, TOKEN_BOB, TOKEN_CAROL.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";

const url = process.env.SIGNALING_URL;
assert.ok(url, "SIGNALING_URL must be set (run through `make test`)");

const sockets = [];
after(() => sockets.forEach((s) => s.close()));

function connect(token) {
  const s = io(url, { transports: ["websocket"], reconnection: false, forceNew: true, auth: { token } });
  sockets.push(s);
  return s;
}

function connected(s) {
  return new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("connect_error", reject);
  });
}

test("an offer storm at one target is answered rate_limited after the burst", async () => {
  const alice = connect(process.env.TOKEN_ALICE);
  const bob = connect(process.env.TOKEN_BOB);
  await Promise.all([connected(alice), connected(bob)]);
  assert.equal((await alice.emitWithAck("join_room", { roomId: "caps" })).ok, true);
  assert.equal((await bob.emitWithAck("join_room", { roomId: "caps" })).ok, true);

  const acks = [];
  for (let i = 0; i < 10; i++) {
    acks.push(await alice.emitWithAck("webrtc_offer", { to: "bob", sdp: { type: "offer", sdp: `v=0 ${i}` } }));
  }
  assert.deepEqual(acks.slice(0, 3), [{ ok: true }, { ok: true }, { ok: true }]);
  for (const ack of acks.slice(3)) {
    assert.equal(ack.ok, false);
    assert.equal(ack.error.code, "rate_limited");
    assert.match(ack.error.message, /to "bob"/);
  }
});

test("a full node refuses the upgrade with HTTP 503", async () => {
  // alice and bob hold the node's two connections.
  const carol = connect(process.env.TOKEN_CAROL);
  const err = await new Promise((resolve, reject) => {
    carol.once("connect", () => reject(new Error("carol connected to a full node")));
    carol.once("connect_error", resolve);
  });
  assert.equal(err.message, "websocket error");
  assert.match(String(err.description?.message ?? err.description), /503/);
});
