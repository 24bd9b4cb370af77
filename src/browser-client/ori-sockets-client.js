// The Ori.Sockets browser client: one ES module, no dependencies. It speaks the protocol of
// docs/protocol.md: waits for ori.ready, sends envelopes with correlation ids, receives pushes,
// keeps the "2"/"3" heartbeat, reconnects with jittered exponential backoff, joins its rooms again
// after each reconnect once the server is ready, and buffers sends while disconnected (bounded).
// Server messages (on) and the client's own lifecycle (onState) are kept apart: no frame a server
// sends can pose as a lifecycle event.
/** A server's error reply. */
export class OriSocketError extends Error {
    code;
    details;
    constructor(code, message, details = []) {
        super(message);
        this.name = "OriSocketError";
        this.code = code;
        this.details = details;
    }
}
/** A send refused: not connected, and the send buffer is full. */
export class BufferFullError extends Error {
    constructor(limit) {
        super(`Not connected, and the send buffer is full (${limit} messages).`);
        this.name = "BufferFullError";
    }
}
/** A request that cannot complete: the connection was lost, or the client is closed. */
export class ConnectionLostError extends Error {
    closeCode;
    constructor(message, closeCode) {
        super(message);
        this.name = "ConnectionLostError";
        this.closeCode = closeCode;
    }
}
const OPEN = 1;
const POLICY_VIOLATION = 1008;
/** Close code the client uses when it drops a connection because its own code failed on it (then it reconnects). */
const CLIENT_FAILURE = 4006;
/** Exponential backoff with equal jitter: half the delay fixed, half random. */
export function backoffDelay(attempt, initial, max, random = Math.random) {
    const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
    return ceiling / 2 + random() * (ceiling / 2);
}
/**
 * The first reconnect after the server's `ori.draining`: its suggested delay plus up to as much again at random (at
 * least up to the first reconnect delay), so that a server's clients come back spread out rather than in one burst.
 */
export function drainDelay(suggested, initial, random = Math.random) {
    return suggested + random() * Math.max(suggested, initial);
}
/** The URL with an `access_token` query parameter (replacing one it had). */
export function withAccessToken(url, token) {
    const hash = url.indexOf("#");
    const base = hash >= 0 ? url.slice(0, hash) : url;
    const query = base.indexOf("?");
    const path = query >= 0 ? base.slice(0, query) : base;
    const kept = query >= 0 ? base.slice(query + 1).split("&").filter((p) => p.length > 0 && !p.startsWith("access_token=")) : [];
    kept.push("access_token=" + encodeURIComponent(token));
    return path + "?" + kept.join("&");
}
/**
 * The Ori.Sockets client. With the server's generated contracts as type arguments
 * (`new OriSocketClient<Routes, Pushes>(url)`), `request`, `send` and `on` are checked by the compiler: an unknown
 * route or push, a misspelled member or a wrong type is an error, and a reply has its type.
 */
export class OriSocketClient {
    url;
    options;
    handlers = new Map();
    stateHandlers = new Set();
    pending = new Map();
    rooms = [];
    positions = new Map();
    recoveryHandlers = new Set();
    // What waits for a connection; a request's entry carries its correlation id, so that it leaves with its rejection.
    buffer = [];
    socket = null;
    ready = false;
    attempts = 0;
    nextId = 0;
    timers = [];
    heartbeat = null;
    pongTimer = null;
    reconnectTimer = null;
    /** The delay `ori.draining` asked for (ms), for the reconnect after the server's 1001; null when none. */
    drainAfter = null;
    currentState = "disconnected";
    id = null;
    onOnline = () => this.reconnectNow();
    onOffline = () => this.socket?.close(4003, "offline");
    openAttempt = 0;
    onVisible = () => {
        if (!this.options.environment?.hidden)
            this.reconnectNow();
    };
    constructor(url, options = {}) {
        this.url = url;
        const environment = options.environment ?? defaultEnvironment();
        this.options = {
            reconnectInitialDelay: 500,
            reconnectMaxDelay: 20000,
            heartbeatInterval: 25000,
            heartbeatTimeout: 5000,
            requestTimeout: 10000,
            connectTimeout: 10000,
            sendBufferLimit: 256,
            ...options,
            environment,
        };
    }
    /** Where the client is. */
    get state() {
        return this.currentState;
    }
    /** The socket id of the current connection, from ori.ready. */
    get socketId() {
        return this.id;
    }
    /** Messages waiting to be sent. */
    get buffered() {
        return this.buffer.length;
    }
    /** Starts connecting; state changes tell what happens. */
    connect() {
        if (this.currentState !== "disconnected")
            return;
        this.options.environment?.addEventListener("online", this.onOnline);
        this.options.environment?.addEventListener("offline", this.onOffline);
        this.options.environment?.addEventListener("visibilitychange", this.onVisible);
        this.setState("connecting");
        this.open();
    }
    /** Calls handler for every push named name. Reserved ori.* names cannot be listened to. Returns a function that stops it. */
    on(name, handler) {
        if (name.startsWith("ori."))
            throw new Error(`'${name}' is reserved by the protocol; use onState for the connection's lifecycle.`);
        let set = this.handlers.get(name);
        if (!set)
            this.handlers.set(name, (set = new Set()));
        const entry = handler;
        set.add(entry);
        return () => set.delete(entry);
    }
    /** Calls handler on every change of state (never caused by a server message's content). */
    onState(handler) {
        this.stateHandlers.add(handler);
        return () => this.stateHandlers.delete(handler);
    }
    /**
     * Calls handler when the client learns whether a recoverable topic's continuity held: after every rejoin that asked
     * to recover, and when pushes were missed or the history began again. Returns a function that stops it.
     */
    onRecovery(handler) {
        this.recoveryHandlers.add(handler);
        return () => this.recoveryHandlers.delete(handler);
    }
    /** The last position seen on a recoverable topic (for routes that subscribe on the server and take one), or undefined. */
    position(topic) {
        return this.positions.get(topic);
    }
    /** Sends a request and resolves with its reply's data; rejects with OriSocketError for an error reply. */
    request(type, data, options = {}) {
        return this.requestAny(type, data, options);
    }
    requestAny(type, data, options = {}) {
        const correlationId = `c${++this.nextId}`;
        const text = JSON.stringify({ type, data: data ?? null, correlationId });
        return new Promise((resolve, reject) => {
            const timeout = options.timeout ?? this.options.requestTimeout;
            const timer = setTimeout(() => {
                // Rejected: it leaves the buffer in the same step, so it is never sent afterwards.
                this.pending.delete(correlationId);
                this.unbuffer(correlationId);
                reject(new Error(`No reply to '${type}' within ${timeout} ms.`));
            }, timeout);
            this.pending.set(correlationId, { resolve: resolve, reject, timer });
            try {
                this.sendOrBuffer(text, correlationId);
            }
            catch (error) {
                clearTimeout(timer);
                this.pending.delete(correlationId);
                reject(error);
            }
        });
    }
    /** Sends a message without waiting for a reply; buffered while disconnected. Throws BufferFullError past the limit. */
    send(type, data) {
        this.sendOrBuffer(JSON.stringify({ type, data: data ?? null }));
    }
    /**
     * Joins a room and remembers it: it is joined again after every reconnect, once the server is ready, with the last
     * position seen when the room is recoverable (what was missed comes first, duplicates are dropped).
     */
    async joinRoom(room) {
        if (!this.rooms.includes(room))
            this.rooms.push(room);
        if (!this.ready)
            return;
        try {
            const socket = this.socket;
            if (!socket)
                return;
            await this.rawRequest(socket, "room.join", this.joinData(room), this.joinReply(room));
        }
        catch (error) {
            if (error instanceof OriSocketError)
                this.forgetRoom(room);
            throw error;
        }
    }
    /** Leaves a room and forgets it. */
    async leaveRoom(room) {
        this.forgetRoom(room);
        this.positions.delete(room);
        if (this.ready)
            await this.requestAny("room.leave", { room });
    }
    /** Closes the connection for good; pending requests are rejected. */
    close() {
        this.setState("closed");
        this.teardown();
        this.socket?.close(1000, "closed by the client");
        this.socket = null;
        this.rejectPending(new ConnectionLostError("The client was closed."));
        this.options.environment?.removeEventListener("online", this.onOnline);
        this.options.environment?.removeEventListener("offline", this.onOffline);
        this.options.environment?.removeEventListener("visibilitychange", this.onVisible);
    }
    open() {
        const provider = this.options.accessTokenProvider;
        if (!provider) {
            this.openSocket(this.url);
            return;
        }
        // A fresh token for every attempt: the one the last connection had may be what expired.
        const attempt = ++this.openAttempt;
        Promise.resolve()
            .then(provider)
            .then((token) => {
            if (attempt !== this.openAttempt || this.currentState === "closed")
                return;
            this.openSocket(token ? withAccessToken(this.url, token) : this.url);
        }, () => {
            if (attempt !== this.openAttempt || this.currentState === "closed")
                return;
            this.onClosed(4005, "the access token provider failed");
        });
    }
    openSocket(url) {
        const Socket = this.options.WebSocket ?? globalThis.WebSocket;
        const socket = new Socket(url);
        this.socket = socket;
        const connectTimer = setTimeout(() => socket.close(4002, "not ready in time"), this.options.connectTimeout);
        this.timers.push(connectTimer);
        socket.onmessage = (event) => {
            if (this.socket !== socket)
                return;
            const text = typeof event.data === "string" ? event.data : "";
            if (text === "3") {
                if (this.pongTimer)
                    clearTimeout(this.pongTimer);
                this.pongTimer = null;
                return;
            }
            let message;
            try {
                message = JSON.parse(text);
            }
            catch {
                return;
            }
            if (message.name === "ori.draining") {
                // The server is shutting down and closes this socket with 1001 soon: the reconnect after it waits as asked.
                const suggested = message.data?.reconnectAfterMs;
                this.drainAfter = typeof suggested === "number" && Number.isFinite(suggested) ? Math.min(Math.max(suggested, 0), 300_000) : 0;
                return;
            }
            if (!this.ready && message.name === "ori.ready") {
                clearTimeout(connectTimer);
                try {
                    this.onReady(socket, message);
                }
                catch (error) {
                    // Never "connected" on a socket the client could not use: drop it and reconnect; the failure surfaces.
                    socket.close(CLIENT_FAILURE, "the client failed while getting ready");
                    if (this.socket === socket)
                        this.onClosed(CLIENT_FAILURE, "the client failed while getting ready");
                    this.reportError(error);
                }
                return;
            }
            this.onMessage(message);
        };
        socket.onclose = (event) => {
            clearTimeout(connectTimer);
            if (this.socket !== socket)
                return;
            this.onClosed(event.code, event.reason);
        };
        socket.onerror = () => {
            // onclose follows.
        };
    }
    onReady(socket, message) {
        const data = message.data;
        this.id = data?.socketId ?? null;
        this.attempts = 0;
        // Rooms first, once each, then what was buffered, then new sends.
        for (const room of [...this.rooms]) {
            this.rawRequest(socket, "room.join", this.joinData(room), this.joinReply(room)).catch((error) => {
                if (error instanceof OriSocketError)
                    this.forgetRoom(room);
            });
        }
        while (this.buffer.length > 0) {
            // Sent, then taken out: a send that throws leaves the message where it was.
            socket.send(this.buffer[0].text);
            this.buffer.shift();
        }
        this.ready = true;
        this.startHeartbeat(socket);
        this.setState("connected");
    }
    joinData(room) {
        const at = this.positions.get(room);
        return at ? { room, recover: { epoch: at.epoch, offset: at.offset } } : { room };
    }
    /** A join's reply, read before the next message: the position it reports (the missed pushes follow it). */
    joinReply(room) {
        const asked = this.positions.get(room);
        return (data) => {
            const reply = data;
            if (typeof reply?.epoch !== "string" || typeof reply.offset !== "number" || typeof reply.recovered !== "boolean")
                return;
            const latest = { epoch: reply.epoch, offset: reply.offset };
            const held = this.positions.get(room);
            if (!(asked && reply.recovered && held?.epoch === latest.epoch))
                this.positions.set(room, latest);
            if (asked)
                this.reportRecovery({ topic: room, recovered: reply.recovered, ...(reply.recovered ? asked : latest) });
        };
    }
    /** Takes a push's position: false for a duplicate; a gap or a new epoch is reported as not recovered. */
    advance(topic, at) {
        const last = this.positions.get(topic);
        if (last && last.epoch === at.epoch && at.offset <= last.offset)
            return false;
        this.positions.set(topic, at);
        if (last && (last.epoch !== at.epoch || at.offset > last.offset + 1))
            this.reportRecovery({ topic, recovered: false, ...at });
        return true;
    }
    reportRecovery(recovery) {
        for (const handler of [...this.recoveryHandlers]) {
            try {
                handler(recovery);
            }
            catch (error) {
                this.reportError(error);
            }
        }
    }
    rawRequest(socket, type, data, onReply) {
        const correlationId = `c${++this.nextId}`;
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                this.pending.delete(correlationId);
                reject(new Error(`No reply to '${type}'.`));
            }, this.options.requestTimeout);
            this.pending.set(correlationId, { resolve, reject, timer, onReply });
            socket.send(JSON.stringify({ type, data, correlationId }));
        });
    }
    onMessage(message) {
        if (typeof message.name === "string") {
            if (message.name.startsWith("ori."))
                return;
            const { topic, offset, epoch } = message;
            const positioned = typeof topic === "string" && typeof offset === "number" && typeof epoch === "string";
            if (positioned && !this.advance(topic, { epoch, offset }))
                return;
            const handlers = this.handlers.get(message.name);
            if (!handlers)
                return;
            const push = positioned
                ? { name: message.name, timestamp: typeof message.timestamp === "number" ? message.timestamp : undefined, topic, offset, epoch }
                : { name: message.name, timestamp: typeof message.timestamp === "number" ? message.timestamp : undefined };
            for (const handler of [...handlers]) {
                try {
                    handler(message.data, push);
                }
                catch (error) {
                    this.reportError(error);
                }
            }
            return;
        }
        if (typeof message.correlationId === "string") {
            const pending = this.pending.get(message.correlationId);
            if (!pending)
                return;
            this.pending.delete(message.correlationId);
            clearTimeout(pending.timer);
            if (typeof message.error === "string") {
                const details = Array.isArray(message.details) ? message.details : [];
                pending.reject(new OriSocketError(message.error, typeof message.message === "string" ? message.message : message.error, details));
            }
            else {
                try {
                    pending.onReply?.(message.data);
                }
                catch (error) {
                    this.reportError(error);
                }
                pending.resolve(message.data);
            }
        }
    }
    onClosed(code, reason) {
        this.teardown();
        this.socket = null;
        this.rejectPending(new ConnectionLostError("The connection was lost before the reply.", code), code !== POLICY_VIOLATION);
        if (this.currentState === "closed")
            return;
        if (code === POLICY_VIOLATION) {
            // Refused by the server's policy: reconnecting would be refused again.
            this.setState("closed", code, reason || "refused by the server");
            return;
        }
        this.scheduleReconnect(code, reason);
    }
    scheduleReconnect(code, reason) {
        const max = this.options.maxReconnectAttempts;
        if (max !== undefined && this.attempts >= max) {
            this.rejectPending(new ConnectionLostError("The client gave up reconnecting; the request was not sent.", code));
            this.setState("disconnected", code, `gave up after ${this.attempts} attempts`);
            return;
        }
        const drain = this.drainAfter;
        this.drainAfter = null;
        this.setState("reconnecting", code, drain !== null ? reason || "the server is draining" : reason);
        if (this.options.environment?.onLine === false)
            return; // waits for the online event
        const attempt = this.attempts++;
        const delay = drain !== null
            ? drainDelay(drain, this.options.reconnectInitialDelay)
            : backoffDelay(attempt, this.options.reconnectInitialDelay, this.options.reconnectMaxDelay);
        this.reconnectTimer = setTimeout(() => {
            this.reconnectTimer = null;
            this.open();
        }, delay);
    }
    reconnectNow() {
        if (this.currentState !== "reconnecting" || this.socket)
            return;
        if (this.reconnectTimer)
            clearTimeout(this.reconnectTimer);
        this.reconnectTimer = null;
        this.open();
    }
    startHeartbeat(socket) {
        if (this.options.heartbeatInterval <= 0)
            return;
        this.heartbeat = setInterval(() => {
            if (socket.readyState !== OPEN)
                return;
            socket.send("2");
            if (this.pongTimer)
                return;
            this.pongTimer = setTimeout(() => {
                // No 3: the connection is dead even if the browser has not noticed.
                this.pongTimer = null;
                socket.close(4003, "heartbeat timed out");
                if (this.socket === socket)
                    this.onClosed(4003, "heartbeat timed out");
            }, this.options.heartbeatTimeout);
        }, this.options.heartbeatInterval);
    }
    sendOrBuffer(text, correlationId) {
        if (this.currentState === "closed")
            throw new ConnectionLostError("The client is closed.");
        if (this.ready && this.socket && this.socket.readyState === OPEN) {
            this.socket.send(text);
            return;
        }
        if (this.buffer.length >= this.options.sendBufferLimit)
            throw new BufferFullError(this.options.sendBufferLimit);
        this.buffer.push({ text, correlationId });
    }
    unbuffer(correlationId) {
        const index = this.buffer.findIndex((entry) => entry.correlationId === correlationId);
        if (index >= 0)
            this.buffer.splice(index, 1);
    }
    teardown() {
        this.ready = false;
        if (this.heartbeat)
            clearInterval(this.heartbeat);
        if (this.pongTimer)
            clearTimeout(this.pongTimer);
        if (this.reconnectTimer)
            clearTimeout(this.reconnectTimer);
        for (const timer of this.timers)
            clearTimeout(timer);
        this.heartbeat = this.pongTimer = this.reconnectTimer = null;
        this.timers = [];
    }
    /**
     * Rejects the requests waiting for a reply. With keepBuffered, a request still in the send buffer keeps waiting:
     * it was never sent, and goes out on the next connection (or times out, and leaves the buffer).
     */
    rejectPending(error, keepBuffered = false) {
        const buffered = keepBuffered ? new Set(this.buffer.map((entry) => entry.correlationId)) : null;
        for (const [correlationId, pending] of [...this.pending]) {
            if (buffered?.has(correlationId))
                continue;
            clearTimeout(pending.timer);
            // A rejected request never goes out afterwards: it leaves the buffer with its rejection.
            this.unbuffer(correlationId);
            this.pending.delete(correlationId);
            pending.reject(error);
        }
    }
    forgetRoom(room) {
        const index = this.rooms.indexOf(room);
        if (index >= 0)
            this.rooms.splice(index, 1);
    }
    setState(current, closeCode, reason) {
        const previous = this.currentState;
        if (previous === current || previous === "closed")
            return;
        this.currentState = current;
        const change = { previous, current, closeCode, reason };
        for (const handler of [...this.stateHandlers]) {
            // A handler that throws must not stop the transition (a reconnect that is never scheduled, say).
            try {
                handler(change);
            }
            catch (error) {
                this.reportError(error);
            }
        }
    }
    reportError(error) {
        const onError = this.options.onError;
        if (onError) {
            try {
                onError(error);
                return;
            }
            catch (failure) {
                error = failure;
            }
        }
        rethrowLater(error);
    }
}
/** Reports an application's exception where the page sees it (the console, window.onerror) without stopping the client. */
function rethrowLater(error) {
    setTimeout(() => {
        throw error;
    });
}
function defaultEnvironment() {
    const g = globalThis;
    if (!g.window || !g.document)
        return undefined;
    const window = g.window;
    const document = g.document;
    return {
        addEventListener: (type, listener) => (type === "visibilitychange" ? document.addEventListener(type, listener) : window.addEventListener(type, listener)),
        removeEventListener: (type, listener) => (type === "visibilitychange" ? document.removeEventListener(type, listener) : window.removeEventListener(type, listener)),
        get hidden() {
            return document.hidden;
        },
        get onLine() {
            return g.navigator?.onLine;
        },
    };
}
