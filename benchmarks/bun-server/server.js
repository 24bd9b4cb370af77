// The load tool's Bun server (bun server.js PORT): Bun.serve WebSockets, uWebSockets underneath, speaking what the
// load scenarios need of the Ori.Sockets protocol (docs/protocol.md): ori.ready on open, the "2"/"3" heartbeat,
// room.join with ws.subscribe, an echo request with its reply, and POST /publish?count&size&intervalMicroseconds&user
// that publishes ticks with server.publish. Ticks carry CLOCK_MONOTONIC in nanoseconds (the clock .NET's Stopwatch reads
// on Linux), so the tool measures latency the same way for every server: Bun's process.hrtime counts from the process's
// start, so its offset to CLOCK_MONOTONIC is read once through libc at start. /ready, /jit and /gc answer as the .NET load server's do (Bun has no JIT count or allocation total to give:
// /jit is constant, /gc zeros, and the tool reports no allocation figure for Bun).
import { dlopen, FFIType, ptr } from "bun:ffi";
import { heapSize } from "bun:jsc";

const port = Number(process.argv[2] ?? 5090);
const libc = dlopen("libc.so.6", { clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 } });
const timespec = new BigInt64Array(2);
libc.symbols.clock_gettime(1 /* CLOCK_MONOTONIC */, ptr(timespec));
const monotonicOffset = timespec[0] * 1_000_000_000n + timespec[1] - process.hrtime.bigint();
const now = () => monotonicOffset + process.hrtime.bigint();
let sockets = 0;

const server = Bun.serve({
  hostname: "127.0.0.1",
  port,
  fetch(request, server) {
    const url = new URL(request.url);
    if (url.pathname === "/ws") {
      const id = `bun-${++sockets}`;
      const user = url.searchParams.get("user");
      if (server.upgrade(request, { data: { id, user } })) return undefined;
      return new Response("a WebSocket upgrade was expected", { status: 400 });
    }
    if (url.pathname === "/ready") return new Response("bun");
    if (url.pathname === "/jit") return new Response("0");
    if (url.pathname === "/gc") return new Response("0,0,0,0");
    if (url.pathname === "/collect" && request.method === "POST") {
      Bun.gc(true);
      return new Response(String(heapSize()));
    }
    if (url.pathname === "/publish" && request.method === "POST") return publish(url);
    return new Response("not found", { status: 404 });
  },
  websocket: {
    // As the .NET load servers: no compression, long idle time, and a send buffer no burst reaches (no drops).
    perMessageDeflate: false,
    idleTimeout: 960,
    backpressureLimit: 1024 * 1024 * 1024,
    closeOnBackpressureLimit: false,
    open(ws) {
      if (ws.data.user) ws.subscribe(`user:${ws.data.user}`);
      ws.send(`{"name":"ori.ready","data":{"socketId":"${ws.data.id}"},"timestamp":${Date.now()}}`);
    },
    message(ws, message) {
      if (message === "2") {
        ws.send("3");
        return;
      }
      let envelope;
      try {
        envelope = JSON.parse(message);
      } catch {
        ws.send(`{"type":"error","error":"bad_request","message":"The message is not valid JSON."}`);
        return;
      }
      const { type, data, correlationId } = envelope ?? {};
      if (type === "room.join" && typeof data?.room === "string") {
        ws.subscribe(data.room);
        ws.send(JSON.stringify({ type, correlationId, data: { room: data.room, joined: true } }));
      } else if (type === "echo" && typeof data?.text === "string") {
        ws.send(JSON.stringify({ type, correlationId, data: { text: data.text } }));
      } else {
        ws.send(JSON.stringify({ type: typeof type === "string" ? type : "error", correlationId, error: "bad_request", message: "Not a message this server handles." }));
      }
    },
  },
});

async function publish(url) {
  const count = Number(url.searchParams.get("count") ?? 1);
  const size = Number(url.searchParams.get("size") ?? 150);
  const interval = BigInt(url.searchParams.get("intervalMicroseconds") ?? 0) * 1000n;
  const user = url.searchParams.get("user");
  const topic = user ? `user:${user}` : "bench";
  const padding = "x".repeat(Math.max(0, size - 60));
  const start = now();
  for (let i = 0; i < count; i++) {
    if (interval > 0n) {
      // Publish i is due at start + i × interval: no drift when one publish takes longer.
      const wait = start + BigInt(i) * interval - now();
      if (wait > 0n) await Bun.sleep(Number(wait) / 1e6);
    }
    server.publish(topic, `{"name":"tick","data":{"t":${now()},"p":"${padding}"}}`);
  }
  return new Response("ok");
}

console.log(`load server (bun ${Bun.version}) on ${server.port}`);
