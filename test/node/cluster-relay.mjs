// Step 3 of test/cluster: two users connect through the SignalingCluster's Service (its
// ClusterIP, load-balanced by kube-proxy) onto two different pods, join a room, relay an
// offer/answer and chat across the pods.
// Env: SERVICE_URL, POD_URLS (comma-separated http://<pod-ip>:9090, each pod's metrics
// listener, which tells which pod holds a connection), TOKEN_ALICE, TOKEN_BOB.
import assert from "node:assert/strict";
import { connect, connected, connectionsPerPod, env, once, report, sleep } from "./cluster-lib.mjs";

const service = env("SERVICE_URL");
const pods = env("POD_URLS").split(",");

// podOfNewConnection finds the pod whose connection count went up by one.
async function podOfNewConnection(before) {
  for (let i = 0; i < 50; i++) {
    const now = await connectionsPerPod(pods);
    const grown = pods.filter((p) => now[p] === before[p] + 1);
    if (grown.length === 1) return grown[0];
    await sleep(100);
  }
  throw new Error("could not tell which pod took the connection");
}

const base = await connectionsPerPod(pods);
const alice = connect(service, env("TOKEN_ALICE"));
await connected(alice);
const alicePod = await podOfNewConnection(base);

// kube-proxy picks an endpoint at random: reconnect bob until he lands on another pod.
let bob, bobPod, attempts = 0;
for (;;) {
  attempts++;
  assert.ok(attempts <= 40, "bob never landed on a pod other than alice's");
  const before = await connectionsPerPod(pods);
  bob = connect(service, env("TOKEN_BOB"));
  await connected(bob);
  bobPod = await podOfNewConnection(before);
  if (bobPod !== alicePod) break;
  bob.disconnect();
  while ((await connectionsPerPod(pods))[bobPod] !== before[bobPod]) await sleep(50);
}

assert.equal((await alice.emitWithAck("join_room", { roomId: "cluster-relay" })).ok, true);
const joined = once(alice, "user_joined");
const ackB = await bob.emitWithAck("join_room", { roomId: "cluster-relay" });
assert.deepEqual(ackB.participants.map((p) => p.userId), ["alice"]);
assert.equal((await joined).userId, "bob");

const sdp = { type: "offer", sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n" };
const offer = once(bob, "webrtc_offer");
assert.deepEqual(await alice.emitWithAck("webrtc_offer", { to: "bob", sdp }), { ok: true });
assert.deepEqual(await offer, { roomId: "cluster-relay", from: "alice", sdp });
const answer = once(alice, "webrtc_answer");
assert.deepEqual(await bob.emitWithAck("webrtc_answer", { to: "alice", sdp: { type: "answer", sdp: "v=0" } }), { ok: true });
assert.equal((await answer).from, "bob");

const chat = once(alice, "chat_message");
const chatAck = await bob.emitWithAck("chat_message", { content: "hello across pods" });
assert.equal(chatAck.ok, true);
const got = await chat;
assert.equal(got.id, chatAck.id);
assert.equal(got.content, "hello across pods");

alice.disconnect();
bob.disconnect();
report({ alicePod, bobPod, attempts, ok: true });
process.exit(0);
