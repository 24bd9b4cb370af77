// The dashboard page, on the Ori.Sockets browser client (served by the server itself: no build step).
import { OriSocketClient } from "/_ori/ori-sockets-client.js";

const params = new URLSearchParams(location.search);
const token = params.get("token") || "alice-token";
const $ = (id) => document.getElementById(id);
const presence = new Map();
const monitors = new Map();
let project = $("project").value.trim();
// The project's monitors and incidents topics, joined as rooms: the client joins them again after every reconnect with
// the last position it saw, and the server sends what was missed first (they keep a history).
let rooms = [];
let watched = false;

$("user").textContent = `signed in with ${token}`;

const scheme = location.protocol === "https:" ? "wss" : "ws";
const client = new OriSocketClient(`${scheme}://${location.host}/ws?token=${encodeURIComponent(token)}`);

client.onState(({ current }) => {
  const el = $("connection");
  el.dataset.state = current;
  el.textContent = current;
  if (current === "connected") {
    // After every (re)connection: the server forgot this socket's status and subscriptions.
    client.request("presence.update", { status: document.hidden ? "away" : $("my-status").value }).catch(() => {});
    if (project && !watched) watch(project);
  }
});

// Told per topic after each rejoin: recovered (the missed pushes follow), or not (refetch what the pushes build).
client.onRecovery(({ topic, recovered, offset }) => {
  const el = $("recovery");
  el.dataset.topic = topic;
  el.dataset.recovered = String(recovered);
  el.textContent = recovered ? `caught up on ${topic.split(":")[0]}` : `missed updates on ${topic.split(":")[0]}: reloaded`;
  if (recovered) return;
  if (topic.startsWith("incidents:")) reloadIncidents();
  if (topic.startsWith("monitors:")) {
    // Statuses come again with their next change.
    monitors.clear();
    $("monitors").replaceChildren();
  }
});

client.on("presence.changed", ({ userId, status }) => {
  if (status === "offline") presence.delete(userId);
  else presence.set(userId, status);
  $("presence").replaceChildren(...[...presence].sort().map(([user, s]) => {
    const li = document.createElement("li");
    li.dataset.user = user;
    li.dataset.status = s;
    li.innerHTML = `<span class="dot ${s}"></span>`;
    li.append(`${user} — ${s}`);
    return li;
  }));
});

client.on("monitor.status_changed", ({ monitorId, currentStatus, checkedAt }) => {
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
});

function incidentItem({ id, title, severity, monitorId }) {
  const li = document.createElement("li");
  li.dataset.incident = id;
  li.append(`${title} (${monitorId})`);
  const badge = document.createElement("span");
  badge.className = "severity";
  badge.textContent = severity;
  li.append(badge);
  return li;
}

// Incidents pushed while a reload is under way are kept (the reload may have been answered before they were stored).
let reloads = 0;
client.on("incident.created", (incident) => {
  const li = incidentItem(incident);
  li.dataset.reload = String(reloads);
  $("incidents").prepend(li);
});

async function reloadIncidents() {
  const reload = ++reloads;
  const response = await fetch(`/api/incidents?projectId=${encodeURIComponent(project)}`, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) return;
  const fetched = await response.json();
  const ids = new Set(fetched.map((i) => i.id));
  const newer = [...$("incidents").children].filter((li) => li.dataset.reload === String(reload) && !ids.has(li.dataset.incident));
  $("incidents").replaceChildren(...newer, ...fetched.map(incidentItem));
}

async function watch(name) {
  try {
    const reply = await client.request("subscribe.project", { projectId: name });
    const topics = [reply.monitors.topic, reply.incidents.topic];
    for (const room of rooms) if (!topics.includes(room)) await client.leaveRoom(room).catch(() => {});
    rooms = topics;
    for (const room of rooms) await client.joinRoom(room);
    watched = true;
    project = reply.projectId;
    $("watching").textContent = `watching ${reply.projectId}`;
    $("watching").dataset.project = reply.projectId;
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

$("my-status").addEventListener("change", () => client.request("presence.update", { status: $("my-status").value }).catch(() => {}));
document.addEventListener("visibilitychange", () => {
  if (client.state === "connected") client.request("presence.update", { status: document.hidden ? "away" : $("my-status").value }).catch(() => {});
});

$("incident-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch("/api/incidents", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({
      projectId: project || $("project").value.trim(),
      title: $("incident-title").value,
      severity: $("incident-severity").value,
      monitorId: $("incident-monitor").value,
    }),
  });
  if (response.ok) $("incident-title").value = "";
});

client.connect();
