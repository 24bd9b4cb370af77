// Unit tests of the browser client with a scripted WebSocket double (node --test).
import { test } from "node:test";
import assert from "node:assert/strict";
import { OriSocketClient, OriSocketError, BufferFullError, ConnectionLostError, backoffDelay, drainDelay, withAccessToken } from "../ori-sockets-client.js";

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fake server side: every socket the client opens is recorded; tests play the server. */
function harness() {
  const sockets = [];
  class FakeSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      sockets.push(this);
      setTimeout(() => {
        this.readyState = 1;
        this.onopen?.({});
      });
    }
    send(text) {
      if (this.readyState !== 1) throw new Error("not open");
      this.sent.push(text);
    }
    close(code = 1000, reason = "") {
      if (this.readyState === 3) return;
      this.readyState = 3;
      setTimeout(() => this.onclose?.({ code, reason }));
    }
    // Server side
    push(message) {
      this.onmessage?.({ data: typeof message === "string" ? message : JSON.stringify(message) });
    }
    ready(id = "s1") {
      this.push({ name: "ori.ready", data: { socketId: id }, timestamp: 1 });
    }
    serverClose(code, reason = "") {
      this.readyState = 3;
      this.onclose?.({ code, reason });
    }
    envelopes() {
      return this.sent.filter((t) => t !== "2").map((t) => JSON.parse(t));
    }
  }
  const listeners = new Map();
  const environment = {
    hidden: false,
    onLine: true,
    addEventListener: (type, listener) => listeners.set(type, listener),
    removeEventListener: (type) => listeners.delete(type),
    fire: (type) => listeners.get(type)?.(),
  };
  return { sockets, FakeSocket, environment };
}

function client(h, options = {}) {
  return new OriSocketClient("ws://test/ws", {
    WebSocket: h.FakeSocket,
    environment: h.environment,
    reconnectInitialDelay: 5,
    reconnectMaxDelay: 20,
    heartbeatInterval: 0,
    requestTimeout: 200,
    ...options,
  });
}

async function connected(h, options) {
  const c = client(h, options);
  c.connect();
  await tick();
  h.sockets.at(-1).ready();
  assert.equal(c.state, "connected");
  return c;
}

test("a request resolves with the reply that carries its correlation id", async () => {
  const h = harness();
  const c = await connected(h);
  const reply = c.request("chat.send", { text: "hi" });
  const [sent] = h.sockets[0].envelopes();
  assert.equal(sent.type, "chat.send");
  h.sockets[0].push({ type: "chat.send", correlationId: "other", data: { n: 0 } });
  h.sockets[0].push({ type: "chat.send", correlationId: sent.correlationId, data: { n: 2 } });
  assert.deepEqual(await reply, { n: 2 });
  c.close();
});

test("an error reply rejects with its code, message and details", async () => {
  const h = harness();
  const c = await connected(h);
  const reply = c.request("chat.send", { text: "" });
  const [sent] = h.sockets[0].envelopes();
  h.sockets[0].push({ type: "chat.send", correlationId: sent.correlationId, error: "validation_failed", message: "Invalid", details: [{ path: "$.data.text", message: "Is required." }] });
  await assert.rejects(reply, (error) => error instanceof OriSocketError && error.code === "validation_failed" && error.details[0].path === "$.data.text");
  c.close();
});

test("a request without reply times out", async () => {
  const h = harness();
  const c = await connected(h);
  await assert.rejects(c.request("slow", {}, { timeout: 20 }), /No reply/);
  c.close();
});

test("nothing is sent before ori.ready; buffered sends follow the room joins", async () => {
  const h = harness();
  const c = client(h);
  c.connect();
  c.joinRoom("account:acme");
  c.send("note", { n: 1 });
  await tick();
  assert.equal(h.sockets[0].sent.length, 0);
  h.sockets[0].ready();
  const types = h.sockets[0].envelopes().map((e) => e.type);
  assert.deepEqual(types, ["room.join", "note"]);
  c.close();
});

test("after a reconnect every room is joined again exactly once, after ready", async () => {
  const h = harness();
  const c = await connected(h);
  const join = c.joinRoom("room:a");
  const [sent] = h.sockets[0].envelopes();
  h.sockets[0].push({ type: "room.join", correlationId: sent.correlationId, data: { room: "room:a", joined: true } });
  await join;
  const states = [];
  c.onState((change) => states.push(change.current));

  h.sockets[0].serverClose(1006);
  assert.equal(c.state, "reconnecting");
  await tick(40);
  assert.equal(h.sockets.length, 2);
  assert.equal(h.sockets[1].sent.length, 0, "nothing before ready");
  h.sockets[1].ready("s2");
  const joins = h.sockets[1].envelopes().filter((e) => e.type === "room.join");
  assert.equal(joins.length, 1);
  assert.equal(joins[0].data.room, "room:a");
  assert.deepEqual(states, ["reconnecting", "connected"]);
  assert.equal(c.socketId, "s2");
  c.close();
});

test("a 1008 close stops reconnection for good", async () => {
  const h = harness();
  const c = await connected(h);
  let change;
  c.onState((s) => (change = s));
  h.sockets[0].serverClose(1008, "Connection rejected by guard");
  await tick(60);
  assert.equal(c.state, "closed");
  assert.equal(change.closeCode, 1008);
  assert.equal(h.sockets.length, 1);
  assert.throws(() => c.send("x"), ConnectionLostError);
});

test("a missed pong closes the socket and reconnects", async () => {
  const h = harness();
  const c = await connected(h, { heartbeatInterval: 10, heartbeatTimeout: 15 });
  await tick(80);
  assert.ok(h.sockets[0].sent.includes("2"));
  assert.equal(h.sockets[0].readyState, 3);
  assert.ok(h.sockets.length >= 2, "reconnected");
  c.close();
});

test("a pong keeps the connection", async () => {
  const h = harness();
  const c = await connected(h, { heartbeatInterval: 10, heartbeatTimeout: 30 });
  const timer = setInterval(() => h.sockets[0].push("3"), 5);
  await tick(100);
  clearInterval(timer);
  assert.equal(h.sockets.length, 1);
  assert.equal(c.state, "connected");
  c.close();
});

test("the send buffer is bounded: past it a send throws and nothing buffered is lost", async () => {
  const h = harness();
  const c = client(h, { sendBufferLimit: 3 });
  c.connect();
  c.send("a");
  c.send("b");
  c.send("c");
  assert.throws(() => c.send("d"), BufferFullError);
  assert.equal(c.buffered, 3);
  await tick();
  h.sockets[0].ready();
  assert.deepEqual(h.sockets[0].envelopes().map((e) => e.type), ["a", "b", "c"]);
  c.close();
});

test("server frames cannot pose as lifecycle events or reserved pushes", async () => {
  const h = harness();
  const c = await connected(h);
  const states = [];
  c.onState((s) => states.push(s));
  assert.throws(() => c.on("ori.ready", () => {}), /reserved/);
  const seen = [];
  c.on("state", (data) => seen.push(data));
  h.sockets[0].push({ name: "ori.ready", data: { socketId: "evil" } });
  h.sockets[0].push({ name: "state", data: { current: "closed" } });
  assert.equal(c.socketId, "s1");
  assert.deepEqual(states, []);
  assert.deepEqual(seen, [{ current: "closed" }]);
  c.close();
});

test("pushes reach handlers until they are removed", async () => {
  const h = harness();
  const c = await connected(h);
  const seen = [];
  const off = c.on("incident.created", (data, push) => seen.push([data.id, push.timestamp]));
  h.sockets[0].push({ name: "incident.created", data: { id: "i1" }, timestamp: 7 });
  off();
  h.sockets[0].push({ name: "incident.created", data: { id: "i2" }, timestamp: 8 });
  assert.deepEqual(seen, [["i1", 7]]);
  c.close();
});

test("offline drops the connection and waits; online reconnects at once", async () => {
  const h = harness();
  const c = await connected(h, { reconnectInitialDelay: 10000, reconnectMaxDelay: 10000 });
  h.environment.onLine = false;
  h.environment.fire("offline");
  await tick(10);
  assert.equal(c.state, "reconnecting");
  assert.equal(h.sockets.length, 1);
  h.environment.onLine = true;
  h.environment.fire("online");
  await tick();
  assert.equal(h.sockets.length, 2, "reconnects at once, not after the 10 s backoff");
  h.sockets[1].ready();
  assert.equal(c.state, "connected");
  c.close();
});

test("pending requests are rejected when the connection is lost", async () => {
  const h = harness();
  const c = await connected(h);
  const reply = c.request("slow");
  h.sockets[0].serverClose(1006);
  await assert.rejects(reply, ConnectionLostError);
  c.close();
});

test("giving up after the maximum attempts", async () => {
  const h = harness();
  const c = await connected(h, { maxReconnectAttempts: 2 });
  h.sockets[0].serverClose(1006);
  for (let i = 0; i < 10 && c.state !== "disconnected"; i++) {
    await tick(30);
    const last = h.sockets.at(-1);
    if (last.readyState !== 3) last.serverClose(1006);
  }
  assert.equal(c.state, "disconnected");
  assert.equal(h.sockets.length, 3);
});

test("backoff grows exponentially with equal jitter up to the maximum", () => {
  for (let attempt = 0; attempt < 8; attempt++) {
    const ceiling = Math.min(20000, 500 * 2 ** attempt);
    assert.equal(backoffDelay(attempt, 500, 20000, () => 0), ceiling / 2);
    assert.equal(backoffDelay(attempt, 500, 20000, () => 1), ceiling);
  }
});

test("the access token provider is asked on every connection attempt and its token goes in the query", async () => {
  const h = harness();
  let issued = 0;
  const c = client(h, { accessTokenProvider: async () => `t${++issued}`, reconnectInitialDelay: 1, reconnectMaxDelay: 2 });
  c.connect();
  await tick(5);
  assert.equal(h.sockets.length, 1);
  assert.equal(h.sockets[0].url, "ws://test/ws?access_token=t1");
  h.sockets[0].ready();

  // The server closes with 4001 (credentials expired): the client comes back with a fresh token.
  h.sockets[0].serverClose(4001, "Credentials expired");
  await tick(20);
  assert.equal(h.sockets.length, 2);
  assert.equal(h.sockets[1].url, "ws://test/ws?access_token=t2");
  assert.equal(c.state, "reconnecting");
  c.close();
});

test("a provider that fails makes that attempt fail and the client retry", async () => {
  const h = harness();
  let calls = 0;
  const c = client(h, {
    accessTokenProvider: () => {
      calls++;
      if (calls === 1) throw new Error("token service down");
      return "ok";
    },
    reconnectInitialDelay: 1,
    reconnectMaxDelay: 2,
  });
  const states = [];
  c.onState((change) => states.push(change.current));
  c.connect();
  await tick(20);
  assert.ok(calls >= 2);
  assert.ok(states.includes("reconnecting"));
  assert.equal(h.sockets.at(-1).url, "ws://test/ws?access_token=ok");
  c.close();
});

test("withAccessToken keeps the query and replaces an older token", () => {
  assert.equal(withAccessToken("wss://h/ws", "a b"), "wss://h/ws?access_token=a%20b");
  assert.equal(withAccessToken("wss://h/ws?x=1&access_token=old", "new"), "wss://h/ws?x=1&access_token=new");
  assert.equal(withAccessToken("wss://h/ws?x=1#f", "t"), "wss://h/ws?x=1&access_token=t");
});

test("a request that timed out while disconnected is never sent after the reconnect", async () => {
  const h = harness();
  const c = await connected(h);
  h.sockets[0].serverClose(1006, "lost");
  await tick();
  const timedOut = c.request("order.place", { sku: "x" }, { timeout: 10 });
  c.send("note", { n: 1 });
  assert.equal(c.buffered, 2);
  await assert.rejects(timedOut, /No reply/);
  assert.equal(c.buffered, 1);
  await tick(40);
  const socket = h.sockets.at(-1);
  socket.ready("s2");
  await tick();
  const types = socket.envelopes().map((e) => e.type);
  assert.deepEqual(types, ["note"]);
  c.close();
});

test("a request still buffered when a connection attempt fails keeps waiting and is sent once on the next", async () => {
  const h = harness();
  const c = await connected(h);
  h.sockets[0].serverClose(1006, "lost");
  await tick();
  const first = c.request("a", {}, { timeout: 5000 });
  await tick(40);
  // The next attempt fails before it is ready: the request was never sent, so it is not rejected and stays buffered.
  h.sockets.at(-1).serverClose(1006, "lost again");
  assert.equal(c.buffered, 1);
  await tick(60);
  const socket = h.sockets.at(-1);
  socket.ready("s3");
  const sent = socket.envelopes();
  assert.deepEqual(sent.map((e) => e.type), ["a"]);
  socket.push({ correlationId: sent[0].correlationId, data: { ok: true } });
  assert.deepEqual(await first, { ok: true });
  c.close();
});

test("a request sent before the connection was lost is rejected; one still buffered is rejected when the client gives up", async () => {
  const h = harness();
  const c = await connected(h, { maxReconnectAttempts: 1 });
  const sent = c.request("sent", {}, { timeout: 5000 });
  h.sockets[0].serverClose(1006, "lost");
  await assert.rejects(sent, ConnectionLostError);
  const buffered = c.request("buffered", {}, { timeout: 5000 });
  await tick(40);
  h.sockets.at(-1).serverClose(1006, "lost again");
  await assert.rejects(buffered, /gave up/);
  assert.equal(c.buffered, 0);
  assert.equal(c.state, "disconnected");
  c.close();
});

test("a send that throws while getting ready drops that connection; the client reconnects and sends it once", async () => {
  const h = harness();
  const errors = [];
  const c = await connected(h, { onError: (error) => errors.push(error) });
  c.send("note", { n: 1 });
  h.sockets[0].serverClose(1006, "lost");
  await tick();
  c.send("note", { n: 2 });
  await tick(40);
  const broken = h.sockets.at(-1);
  const send = broken.send.bind(broken);
  broken.send = (text) => {
    if (text.includes('"n":2')) throw new Error("send failed");
    send(text);
  };
  const states = [];
  c.onState((change) => states.push(change.current));
  broken.ready("s2");
  // Not connected on the socket it could not use: dropped, and the failure reported.
  assert.equal(c.state, "reconnecting");
  assert.deepEqual(states, []);
  assert.equal(broken.readyState, 3);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].message, "send failed");
  await tick(40);
  const next = h.sockets.at(-1);
  assert.notEqual(next, broken);
  next.ready("s3");
  assert.equal(c.state, "connected");
  assert.deepEqual(next.envelopes().map((e) => e.data.n), [2]);
  assert.deepEqual(states, ["connected"]);
  c.close();
});

test("a state handler that throws does not stop the reconnect; the error is reported", async () => {
  const h = harness();
  const errors = [];
  const c = await connected(h, { onError: (error) => errors.push(error) });
  c.onState(() => {
    throw new Error("handler failed");
  });
  h.sockets[0].serverClose(1006, "lost");
  await tick(40);
  assert.equal(h.sockets.length, 2);
  h.sockets[1].ready("s2");
  assert.equal(c.state, "connected");
  assert.ok(errors.length >= 2);
  assert.ok(errors.every((e) => e.message === "handler failed"));
  c.close();
});

test("a recoverable room is joined again with its last position; the replay is delivered once and the outcome told", async () => {
  const h = harness();
  const c = await connected(h);
  const seen = [];
  const recoveries = [];
  c.on("note", (data, push) => seen.push([data.n, push.offset]));
  c.onRecovery((r) => recoveries.push(r));
  const join = c.joinRoom("feed");
  const [sent] = h.sockets[0].envelopes();
  assert.equal(sent.data.recover, undefined, "a first join asks for nothing");
  h.sockets[0].push({ type: "room.join", correlationId: sent.correlationId, data: { room: "feed", joined: true, recovered: false, epoch: "e1", offset: 4 } });
  await join;
  assert.deepEqual(c.position("feed"), { epoch: "e1", offset: 4 });
  const note = (n, offset, epoch = "e1") => ({ name: "note", data: { n }, timestamp: 1, topic: "feed", offset, epoch });
  h.sockets[0].push(note(5, 5));
  h.sockets[0].push(note(6, 6));

  h.sockets[0].serverClose(1006);
  await tick(40);
  h.sockets[1].ready("s2");
  const rejoin = h.sockets[1].envelopes().find((e) => e.type === "room.join");
  assert.deepEqual(rejoin.data, { room: "feed", recover: { epoch: "e1", offset: 6 } });
  // The reply, then the missed pushes; a repeat of one already seen is dropped.
  h.sockets[1].push({ type: "room.join", correlationId: rejoin.correlationId, data: { room: "feed", joined: true, recovered: true, epoch: "e1", offset: 8 } });
  h.sockets[1].push(note(6, 6));
  h.sockets[1].push(note(7, 7));
  h.sockets[1].push(note(8, 8));
  h.sockets[1].push(note(8, 8));
  assert.deepEqual(seen, [[5, 5], [6, 6], [7, 7], [8, 8]]);
  assert.deepEqual(recoveries, [{ topic: "feed", recovered: true, epoch: "e1", offset: 6 }]);
  assert.deepEqual(c.position("feed"), { epoch: "e1", offset: 8 });

  // A gap on a live connection, then a new history: both told as not recovered.
  h.sockets[1].push(note(10, 10));
  h.sockets[1].push(note(1, 1, "e2"));
  assert.deepEqual(recoveries.slice(1), [
    { topic: "feed", recovered: false, epoch: "e1", offset: 10 },
    { topic: "feed", recovered: false, epoch: "e2", offset: 1 },
  ]);
  assert.deepEqual(seen.slice(4), [[10, 10], [1, 1]]);
  c.close();
});

test("a rejoin that cannot recover is told so with the current position, and leaving forgets the position", async () => {
  const h = harness();
  const c = await connected(h);
  const recoveries = [];
  c.onRecovery((r) => recoveries.push(r));
  const join = c.joinRoom("feed");
  const [sent] = h.sockets[0].envelopes();
  h.sockets[0].push({ type: "room.join", correlationId: sent.correlationId, data: { room: "feed", joined: true, recovered: false, epoch: "e1", offset: 2 } });
  await join;
  h.sockets[0].serverClose(1006);
  await tick(40);
  h.sockets[1].ready("s2");
  const rejoin = h.sockets[1].envelopes().find((e) => e.type === "room.join");
  h.sockets[1].push({ type: "room.join", correlationId: rejoin.correlationId, data: { room: "feed", joined: true, recovered: false, epoch: "e1", offset: 300 } });
  assert.deepEqual(recoveries, [{ topic: "feed", recovered: false, epoch: "e1", offset: 300 }]);
  assert.deepEqual(c.position("feed"), { epoch: "e1", offset: 300 });

  const leave = c.leaveRoom("feed");
  const left = h.sockets[1].envelopes().find((e) => e.type === "room.leave");
  h.sockets[1].push({ type: "room.leave", correlationId: left.correlationId, data: { room: "feed", joined: false } });
  await leave;
  assert.equal(c.position("feed"), undefined);
  c.close();
});

test("drainDelay is the suggested delay plus up to as much again (at least the first reconnect delay) at random", () => {
  assert.equal(drainDelay(1000, 500, () => 0), 1000);
  assert.equal(drainDelay(1000, 500, () => 0.5), 1500);
  assert.equal(drainDelay(0, 500, () => 0.5), 250);
});

test("after ori.draining and the server's 1001 the client waits the suggested delay before it reconnects", async () => {
  const h = harness();
  const c = await connected(h, { reconnectInitialDelay: 20 });
  const states = [];
  c.onState((s) => states.push(s));
  h.sockets[0].push({ name: "ori.draining", data: { reconnectAfterMs: 300 }, timestamp: 1 });
  h.sockets[0].serverClose(1001, "Server shutting down");
  assert.equal(states.at(-1).current, "reconnecting");
  assert.equal(states.at(-1).closeCode, 1001);
  await tick(250);
  assert.equal(h.sockets.length, 1, "reconnected before the delay the server asked for");
  await tick(450);
  assert.equal(h.sockets.length, 2);

  // Only that reconnect: a later drop goes back to the usual backoff (20 ms here).
  h.sockets[1].ready("s2");
  h.sockets[1].serverClose(1006, "");
  await tick(60);
  assert.equal(h.sockets.length, 3);
  c.close();
});
