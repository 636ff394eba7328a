// Connection-state recovery with the stock socket.io-client across two nodes on Redis.
// Started by test/recovery_test.go with:
//   PROXY_URL    a TCP proxy in front of node A that the test can cut and point at node B
//   NODE_B_URL   node B itself
//   CONTROL_URL  GET /cut?to=a|b (close the proxy's connections, send new ones to a|b),
//                /switch?to=a|b, /block?ms= (refuse new connections), /drain (drain node A;
//                the proxy leads to node B)
//   TOKEN_ALICE, TOKEN_BOB, TOKEN_MALLORY, RECOVERY_WINDOW_MS
// A frontend using recovery joins its room on `connect` only when `socket.recovered` is
// false; alice does exactly that.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";

const sockets = [];
after(() => sockets.forEach((s) => s.close()));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function once(socket, event, ms = 20000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), ms);
    socket.once(event, (...args) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}

async function until(cond, what, ms = 30000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(20);
  }
}

async function control(path) {
  const res = await fetch(process.env.CONTROL_URL + path);
  assert.equal(res.status, 200, `control ${path}`);
}

async function aliceThroughProxy(room, opts = {}) {
  const alice = io(process.env.PROXY_URL, {
    transports: ["websocket"],
    auth: { token: process.env.TOKEN_ALICE },
    reconnectionDelay: 1000,
    reconnectionDelayMax: 1000,
    randomizationFactor: 0,
    ...opts,
  });
  sockets.push(alice);
  const got = { chat: [], offers: [], ice: [], joins: 0, connects: [] };
  alice.on("chat_message", (m) => got.chat.push(m.content));
  alice.on("webrtc_offer", (m) => got.offers.push(m.sdp));
  alice.on("webrtc_ice_candidate", (m) => got.ice.push(m.candidate));
  alice.on("connect", async () => {
    got.connects.push(alice.recovered);
    if (!alice.recovered) {
      got.joins++;
      got.lastJoin = await alice.emitWithAck("join_room", { roomId: room });
    }
  });
  await until(() => got.lastJoin, "alice's join");
  assert.equal(got.lastJoin.ok, true);
  return { alice, got };
}

async function bobOnNodeB(room) {
  const bob = io(process.env.NODE_B_URL, { transports: ["websocket"], auth: { token: process.env.TOKEN_BOB } });
  sockets.push(bob);
  await once(bob, "connect");
  assert.equal((await bob.emitWithAck("join_room", { roomId: room })).ok, true);
  const churn = [];
  bob.on("user_left", (e) => churn.push(["user_left", e.userId, e.reason]));
  bob.on("user_joined", (e) => churn.push(["user_joined", e.userId]));
  return { bob, churn };
}

// bob keeps sending numbered chat, offers and ICE candidates to alice until stop().
function sendLoop(bob, everyMs = 40) {
  const sent = { chat: [], offers: [], ice: [], failed: [] };
  let running = true;
  const done = (async () => {
    for (let n = 0; running; n++) {
      const [c, o, i] = await Promise.all([
        bob.emitWithAck("chat_message", { content: `c${n}` }),
        bob.emitWithAck("webrtc_offer", { to: "alice", sdp: `o${n}` }),
        bob.emitWithAck("webrtc_ice_candidate", { to: "alice", candidate: `i${n}` }),
      ]);
      for (const [ack, list, v] of [[c, sent.chat, `c${n}`], [o, sent.offers, `o${n}`], [i, sent.ice, `i${n}`]]) {
        if (ack.ok) list.push(v);
        else sent.failed.push([v, ack.error]);
      }
      await sleep(everyMs);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return sent;
    },
  };
}

async function expectEverythingOnceInOrder(got, sent) {
  assert.deepEqual(sent.failed, [], "bob's sends that failed");
  const complete = () => got.chat.length >= sent.chat.length && got.offers.length >= sent.offers.length && got.ice.length >= sent.ice.length;
  await until(complete, `all of bob's events (got ${got.chat.length}/${got.offers.length}/${got.ice.length})`);
  await sleep(500); // a duplicate would arrive meanwhile
  assert.deepEqual(got.chat, sent.chat);
  assert.deepEqual(got.offers, sent.offers);
  assert.deepEqual(got.ice, sent.ice);
}

for (const [label, transports] of [["WebSocket", ["websocket"]], ["default transports (polling, then the upgrade)", undefined]]) {
test(`a network drop and a reconnect through the other node (${label}): recovered, every event once and in order, no churn`, async () => {
  const room = "csr-drop-" + (transports ? "ws" : "default");
  await control("/switch?to=a");
  const { bob, churn } = await bobOnNodeB(room);
  const { alice, got } = await aliceThroughProxy(room, transports ? {} : { transports: ["polling", "websocket"] });
  await until(() => churn.length === 1, "alice's user_joined");
  churn.length = 0;

  const loop = sendLoop(bob);
  await sleep(700);
  const dropped = once(alice, "disconnect");
  await control("/cut?to=b"); // alice's TCP connection dies; her reconnect ~1 s later lands on node B
  assert.equal((await dropped)[0], "transport close");
  await until(() => got.connects.length === 2, "alice's reconnect");
  assert.equal(got.connects[1], true, "socket.recovered after the reconnect");
  await sleep(1000); // bob keeps sending to the recovered session
  await expectEverythingOnceInOrder(got, await loop.stop());
  assert.ok(got.chat.length > 20, `only ${got.chat.length} chat messages sent: the test did not run through the drop`);
  assert.equal(got.joins, 1, "alice joined again instead of being restored");
  assert.deepEqual(churn, [], "bob saw alice leave or join");
  alice.close();
  bob.close();
});
}

test("another user's pid, or a forged one, gets a fresh session and none of the other's events", async () => {
  const room = "csr-foreign";
  const { bob } = await bobOnNodeB(room);
  await control("/switch?to=a");
  const { alice, got } = await aliceThroughProxy(room);
  await bob.emitWithAck("chat_message", { content: "before" });
  await until(() => got.chat.length === 1, "the first chat");
  const alicePid = alice._pid;
  const aliceOffset = alice._lastOffset;
  assert.equal(typeof alicePid, "string");
  assert.equal(typeof aliceOffset, "string");

  // alice is away for a while; bob writes to her meanwhile.
  await control("/block?ms=2500");
  await control("/cut?to=a");
  assert.equal((await bob.emitWithAck("chat_message", { content: "while away" })).ok, true);

  // mallory (node B) presents alice's pid and offset, then a forged pid.
  const mallory = io(process.env.NODE_B_URL, {
    transports: ["websocket"],
    auth: { token: process.env.TOKEN_MALLORY },
    reconnectionDelay: 100,
    randomizationFactor: 0,
  });
  sockets.push(mallory);
  const malloryGot = [];
  mallory.onAny((event, ...args) => malloryGot.push([event, ...args]));
  await once(mallory, "connect");
  for (const [pid, offset] of [[alicePid, aliceOffset], ["forged" + alicePid.slice(6), aliceOffset]]) {
    mallory._pid = pid;
    mallory._lastOffset = offset;
    const reconnected = once(mallory, "connect");
    mallory.io.engine.close();
    await reconnected;
    assert.equal(mallory.recovered, false, `mallory recovered with pid ${pid}`);
    assert.notEqual(mallory._pid, alicePid);
  }
  await sleep(300);
  assert.deepEqual(malloryGot, [], "mallory received events");

  // alice herself gets her session back, with what she missed.
  await until(() => got.connects.length === 2, "alice's reconnect");
  assert.equal(got.connects[1], true, "alice recovered");
  await until(() => got.chat.length === 2, "the missed chat");
  assert.deepEqual(got.chat, ["before", "while away"]);
  for (const s of [alice, bob, mallory]) s.close();
});

test("a drain moves the client to the other node, recovered, with every offer and ICE candidate sent during the move", async () => {
  const room = "csr-drain";
  const { bob, churn } = await bobOnNodeB(room);
  await control("/switch?to=a");
  const { alice, got } = await aliceThroughProxy(room, { reconnectionDelay: 300, reconnectionDelayMax: 300 });
  await until(() => churn.length === 1, "alice's user_joined");
  churn.length = 0;

  const loop = sendLoop(bob);
  await sleep(500);
  const notice = once(alice, "server_draining");
  await control("/drain");
  await notice;
  await until(() => got.connects.length === 2, "alice's reconnect");
  assert.equal(got.connects[1], true, "socket.recovered after the drain");
  await sleep(800);
  await expectEverythingOnceInOrder(got, await loop.stop());
  assert.equal(got.joins, 1);
  assert.deepEqual(churn, []);
  alice.close();
  bob.close();
});

test("after the recovery window: a fresh session, and the others heard user_left", async () => {
  const room = "csr-expiry";
  const { bob, churn } = await bobOnNodeB(room);
  const { got } = await aliceThroughProxy(room);
  await until(() => churn.length === 1, "alice's user_joined");
  churn.length = 0;
  await bob.emitWithAck("chat_message", { content: "seen" });
  await until(() => got.chat.length === 1, "the first chat");

  await control(`/block?ms=${Number(process.env.RECOVERY_WINDOW_MS) + 1500}`);
  await control("/cut?to=b");
  await until(() => churn.length >= 1, "user_left");
  assert.deepEqual(churn[0], ["user_left", "alice", "disconnected"]);
  await until(() => got.connects.length === 2, "alice's reconnect");
  assert.equal(got.connects[1], false, "recovered after the window");
  await until(() => churn.length === 2, "alice's user_joined after her new join");
  assert.deepEqual(churn[1], ["user_joined", "alice"]);
  assert.equal(got.joins, 2);
});
