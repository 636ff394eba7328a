// Two socket.io-client users join a room on a running signaling node and relay an offer.
//   make run                                   # in one terminal
//   cd test/node && npm ci && node examples/relay-offer.mjs [url] [aliceToken] [bobToken]
// Without tokens the script asks the --dev node's /dev/token endpoint for them.
import { io } from "socket.io-client";

const url = process.argv[2] ?? "http://localhost:8080";
const token = async (user, given) =>
  given ?? (await (await fetch(`${url}/dev/token?user=${user}&name=${user}`)).json()).token;

const [ta, tb] = [await token("alice", process.argv[3]), await token("bob", process.argv[4])];
const connect = (t) => io(url, { transports: ["websocket"], auth: { token: t } });
const alice = connect(ta);
const bob = connect(tb);
for (const s of [alice, bob]) s.on("connect_error", (e) => { console.error("connect_error:", e.message); process.exit(1); });

bob.on("webrtc_offer", (msg) => {
  console.log("bob received webrtc_offer:", JSON.stringify(msg));
  alice.close();
  bob.close();
});
alice.on("user_joined", (u) => console.log("alice sees user_joined:", JSON.stringify(u)));

console.log("alice join ack:", JSON.stringify(await alice.emitWithAck("join_room", { roomId: "demo" })));
console.log("bob join ack:  ", JSON.stringify(await bob.emitWithAck("join_room", { roomId: "demo" })));
const ack = await alice.emitWithAck("webrtc_offer", { to: "bob", sdp: { type: "offer", sdp: "v=0 (example)" } });
console.log("alice offer ack:", JSON.stringify(ack));
