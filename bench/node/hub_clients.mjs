// Websocket clients for bench/hub.py: N connections, the first `stalled` never read (their sockets are paused,
// so the server's writes back up), the others time every message by its "sent" field.
// node hub_clients.mjs URL CLIENTS STALLED SECONDS SUBSCRIBE(0|1)
import WebSocket from "ws";

const [url, clients, stalled, seconds, subscribe] = process.argv.slice(2);
const n = Number(clients), stall = Number(stalled), runFor = Number(seconds) * 1000;
const latencies = [];
let received = 0;
let open = 0;

function client(i) {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 0 });
  ws.on("open", () => {
    open += 1;
    if (subscribe === "1") ws.send(JSON.stringify({ type: "subscribe", channels: ["health"] }));
    if (i < stall) ws._socket.pause();
  });
  ws.on("message", (data) => {
    const text = data.toString();
    const k = text.indexOf('"sent":');
    if (k < 0) return;
    const end = text.indexOf(",", k);
    const sent = parseFloat(text.slice(k + 7, end < 0 ? undefined : end).replace("}", ""));
    received += 1;
    if (latencies.length < 400000) latencies.push(Date.now() / 1000 - sent);
  });
  ws.on("error", () => {});
  return ws;
}

const sockets = Array.from({ length: n }, (_, i) => client(i));
setTimeout(() => {
  latencies.sort((a, b) => a - b);
  const step = Math.max(1, Math.floor(latencies.length / 20000));
  for (const ws of sockets) ws.terminate();
  const summary = JSON.stringify({ received, open, latencies: latencies.filter((_, i) => i % step === 0) }) + "\n";
  process.stdout.write(summary, () => process.exit(0));  // a pipe write is asynchronous: exit once it is out
}, runFor + 2000);
