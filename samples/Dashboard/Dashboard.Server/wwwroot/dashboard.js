// The dashboard page: a small WebSocket client speaking the Ori.Sockets protocol (ori.ready,
// requests with correlation ids, pushes, the "2"/"3" heartbeat), reconnecting with jittered backoff.
const params = new URLSearchParams(location.search);
const token = params.get("token") || "alice-token";
const $ = (id) => document.getElementById(id);

const state = { socket: null, attempts: 0, pending: new Map(), nextId: 1, project: null, heartbeat: null, closedForGood: false };
const presence = new Map();
const monitors = new Map();

$("user").textContent = `signed in with ${token}`;

function setConnection(value) {
  const el = $("connection");
  el.dataset.state = value;
  el.textContent = value;
}

function connect() {
  setConnection(state.attempts === 0 ? "connecting" : "reconnecting");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(token)}`);
  state.socket = socket;
  socket.onmessage = (event) => onFrame(event.data);
  socket.onclose = (event) => onClose(event);
}

function onClose(event) {
  clearInterval(state.heartbeat);
  for (const [, pending] of state.pending) pending.reject(new Error("disconnected"));
  state.pending.clear();
  if (event.code === 1008) {
    // Refused by the server's guard: reconnecting would be refused again.
    state.closedForGood = true;
    setConnection("disconnected");
    return;
  }
  setConnection("reconnecting");
  const base = Math.min(20000, 500 * 2 ** state.attempts++);
  setTimeout(connect, base / 2 + Math.random() * base / 2);
}

function onFrame(text) {
  if (text === "3") return; // pong
  const message = JSON.parse(text);
  if (message.name === "ori.ready") return onReady();
  if (message.correlationId && state.pending.has(message.correlationId)) {
    const pending = state.pending.get(message.correlationId);
    state.pending.delete(message.correlationId);
    return message.error ? pending.reject(Object.assign(new Error(message.message), message)) : pending.resolve(message.data);
  }
  switch (message.name) {
    case "presence.changed": return showPresence(message.data);
    case "monitor.status_changed": return showMonitor(message.data);
    case "incident.created": return showIncident(message.data);
  }
}

function onReady() {
  state.attempts = 0;
  setConnection("connected");
  state.heartbeat = setInterval(() => state.socket.readyState === WebSocket.OPEN && state.socket.send("2"), 25000);
  request("presence.update", { status: document.hidden ? "away" : $("my-status").value }).catch(() => {});
  if (state.project) watch(state.project);
}

function request(type, data) {
  const correlationId = `c${state.nextId++}`;
  return new Promise((resolve, reject) => {
    if (!state.socket || state.socket.readyState !== WebSocket.OPEN) return reject(new Error("not connected"));
    state.pending.set(correlationId, { resolve, reject });
    state.socket.send(JSON.stringify({ type, data, correlationId }));
    setTimeout(() => state.pending.delete(correlationId) && reject(new Error("timed out")), 10000);
  });
}

function showPresence({ userId, status }) {
  if (status === "offline") presence.delete(userId); else presence.set(userId, status);
  const list = $("presence");
  list.replaceChildren(...[...presence].sort().map(([user, s]) => {
    const li = document.createElement("li");
    li.dataset.user = user;
    li.innerHTML = `<span class="dot ${s}"></span>`;
    li.append(`${user} — ${s}`);
    return li;
  }));
}

function showMonitor({ monitorId, currentStatus, checkedAt }) {
  monitors.set(monitorId, { status: currentStatus, checkedAt });
  $("monitors").replaceChildren(...[...monitors].sort().map(([id, m]) => {
    const div = document.createElement("div");
    div.className = `monitor ${m.status}`;
    div.dataset.monitor = id;
    div.innerHTML = `<span class="dot"></span>`;
    div.append(`${id}: ${m.status}`);
    div.title = `checked ${new Date(m.checkedAt).toLocaleTimeString()}`;
    return div;
  }));
}

function showIncident({ id, title, severity, monitorId }) {
  const li = document.createElement("li");
  li.dataset.incident = id;
  li.append(`${title} (${monitorId})`);
  const badge = document.createElement("span");
  badge.className = "severity";
  badge.textContent = severity;
  li.append(badge);
  $("incidents").prepend(li);
}

async function watch(project) {
  try {
    const reply = await request("subscribe.project", { projectId: project });
    state.project = reply.projectId;
    $("watching").textContent = `watching ${reply.projectId}`;
  } catch (error) {
    $("watching").textContent = `could not watch: ${error.message}`;
  }
}

$("subscribe-form").addEventListener("submit", (event) => {
  event.preventDefault();
  monitors.clear();
  $("monitors").replaceChildren();
  watch($("project").value.trim());
});

$("my-status").addEventListener("change", () => request("presence.update", { status: $("my-status").value }).catch(() => {}));
document.addEventListener("visibilitychange", () =>
  request("presence.update", { status: document.hidden ? "away" : $("my-status").value }).catch(() => {}));

$("incident-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch("/api/incidents", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({
      projectId: state.project || $("project").value.trim(),
      title: $("incident-title").value,
      severity: $("incident-severity").value,
      monitorId: $("incident-monitor").value,
    }),
  });
  if (response.ok) $("incident-title").value = "";
});

state.project = $("project").value.trim();
connect();
