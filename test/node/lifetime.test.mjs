// Room grants and token lifetime with the stock socket.io-client 4.x. Started by
// test/socketio_client_test.go (TestStockSocketIOClientGrantsAndTokenLifetime) against a node
// with --require-room-grant and a short --token-refresh-lead, with:
//   SIGNALING_URL
//   TOKEN_ALICE          alice, rooms ["team-1-*"], expires soon (inside the refresh lead)
//   TOKEN_ALICE_REFRESH  alice, rooms ["team-1-*"], expires a few seconds later
//   TOKEN_MALLORY_REFRESH  mallory's token (refused as a refresh of alice's session)
//   TOKEN_BOB            bob, rooms ["team-1-*"], one hour
//   TOKEN_CAROL          carol, no rooms claim, one hour
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

function once(socket, event, ms = 30000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), ms);
    socket.once(event, (data) => {
      clearTimeout(t);
      resolve(data);
    });
  });
}

const connected = (s) => (s.connected ? Promise.resolve() : once(s, "connect"));

test("joins outside the grants are forbidden, whether the room exists or not", async () => {
  const bob = connect(process.env.TOKEN_BOB);
  const carol = connect(process.env.TOKEN_CAROL);
  await Promise.all([connected(bob), connected(carol)]);

  assert.equal((await bob.emitWithAck("join_room", { roomId: "team-1-grants" })).ok, true);
  const outside = await bob.emitWithAck("join_room", { roomId: "team-2-standup" });
  assert.deepEqual(outside, {
    ok: false,
    error: { code: "forbidden", message: 'you may not join room "team-2-standup"' },
  });
  // Still in the room the refused join did not leave.
  assert.deepEqual(await bob.emitWithAck("chat_message", { content: "still here" }).then((a) => a.ok), true);

  // No rooms claim under --require-room-grant: nothing is granted.
  const ungranted = await carol.emitWithAck("join_room", { roomId: "team-1-grants" });
  assert.equal(ungranted.ok, false);
  assert.equal(ungranted.error.code, "forbidden");
});

test("token_expiring, refresh_token, then token_expired and a server disconnect", async () => {
  const bob = connect(process.env.TOKEN_BOB);
  const alice = connect(process.env.TOKEN_ALICE);
  // Registered before connecting: the notice may come right after the CONNECT.
  const expiring = once(alice, "token_expiring");
  await Promise.all([connected(bob), connected(alice)]);
  assert.equal((await bob.emitWithAck("join_room", { roomId: "team-1-life" })).ok, true);
  assert.equal((await alice.emitWithAck("join_room", { roomId: "team-1-life" })).ok, true);

  const notice = await expiring;
  assert.equal(typeof notice.expiresAt, "number");
  assert.ok(notice.inMs >= 0 && notice.inMs <= notice.expiresAt - Date.now() + 1000, `inMs ${notice.inMs}`);

  // Another user's token is refused and changes nothing.
  const refused = await alice.emitWithAck("refresh_token", { token: process.env.TOKEN_MALLORY_REFRESH });
  assert.equal(refused.ok, false);
  assert.equal(refused.error.code, "forbidden");

  const nextNotice = once(alice, "token_expiring");
  const ack = await alice.emitWithAck("refresh_token", { token: process.env.TOKEN_ALICE_REFRESH });
  assert.equal(ack.ok, true);
  assert.ok(ack.expiresAt > notice.expiresAt, "the refreshed token expires later");
  assert.equal((await nextNotice).expiresAt, ack.expiresAt);

  // No further refresh: the server ends the session when the new token runs out.
  const errorEvent = once(alice, "error");
  const disconnected = once(alice, "disconnect");
  const left = once(bob, "user_left");
  assert.equal((await errorEvent).code, "token_expired");
  assert.equal(await disconnected, "io server disconnect");
  assert.deepEqual(await left, { roomId: "team-1-life", userId: "alice", reason: "disconnected" });
});
