// The dashboard page, on the Ori.Sockets browser client (served by the server itself: no build step).
import { OriSocketClient } from "/_ori/ori-sockets-client.js";

const params = new URLSearchParams(location.search);
const token = params.get("token") || "alice-token";
const $ = (id) => document.getElementById(id);
const presence = new Map();
const monitors = new Map();
let project = $("project").value.trim();

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
    if (project) watch(project);
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

client.on("incident.created", ({ id, title, severity, monitorId }) => {
  const li = document.createElement("li");
  li.dataset.incident = id;
  li.append(`${title} (${monitorId})`);
  const badge = document.createElement("span");
  badge.className = "severity";
  badge.textContent = severity;
  li.append(badge);
  $("incidents").prepend(li);
});

async function watch(name) {
  try {
    const reply = await client.request("subscribe.project", { projectId: name });
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
