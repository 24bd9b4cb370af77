/** Where the client is. */
export type ConnectionState = "disconnected" | "connecting" | "connected" | "reconnecting" | "closed";
/** A change of state, with the close code that caused it when there was one. */
export interface StateChange {
    readonly previous: ConnectionState;
    readonly current: ConnectionState;
    readonly closeCode?: number;
    readonly reason?: string;
}
/** A push's envelope (its data goes to the handler separately); pushes on recoverable topics carry their position. */
export interface PushInfo {
    readonly name: string;
    readonly timestamp?: number;
    readonly topic?: string;
    readonly offset?: number;
    readonly epoch?: string;
}
/** A place in a recoverable topic's history (protocol section 8). */
export interface Position {
    readonly epoch: string;
    readonly offset: number;
}
/**
 * What the client learned of a recoverable topic's continuity: after a rejoin that asked to recover, whether every
 * missed push is delivered (they follow, in order); or that pushes were missed on a live connection, or the history
 * began again (recovered: false: refetch what the topic's pushes build).
 */
export interface Recovery extends Position {
    readonly topic: string;
    readonly recovered: boolean;
}
/** One failure of a validation_failed reply. */
export interface ErrorDetail {
    readonly path: string;
    readonly message: string;
}
/** Minimal WebSocket shape the client needs (the browser's WebSocket, or a test double). */
export interface WebSocketLike {
    readonly readyState: number;
    onopen: ((event: unknown) => void) | null;
    onmessage: ((event: {
        data: unknown;
    }) => void) | null;
    onclose: ((event: {
        code: number;
        reason: string;
    }) => void) | null;
    onerror: ((event: unknown) => void) | null;
    send(data: string): void;
    close(code?: number, reason?: string): void;
}
/** What the client listens to for page visibility and network changes (the window, or a test double). */
export interface EnvironmentLike {
    addEventListener(type: string, listener: () => void): void;
    removeEventListener(type: string, listener: () => void): void;
    readonly hidden?: boolean;
    readonly onLine?: boolean;
}
export interface OriSocketClientOptions {
    /** First reconnect delay in ms (doubles each attempt, with jitter). Default 500. */
    reconnectInitialDelay?: number;
    /** Longest reconnect delay in ms. Default 20000. */
    reconnectMaxDelay?: number;
    /** Attempts after a lost connection before giving up; default unlimited. */
    maxReconnectAttempts?: number;
    /** Heartbeat interval in ms ("2"); 0 turns it off. Default 25000. */
    heartbeatInterval?: number;
    /** How long to wait for "3" before reconnecting, in ms. Default 5000. */
    heartbeatTimeout?: number;
    /** How long a request waits for its reply, in ms. Default 10000. */
    requestTimeout?: number;
    /** How long a connection may take until ori.ready, in ms. Default 10000. */
    connectTimeout?: number;
    /** Sends and requests kept while disconnected; past it send() and request() throw BufferFullError. Default 256. */
    sendBufferLimit?: number;
    /**
     * Gives the access token for each connection attempt, the first and every reconnect (a server closes a socket
     * whose credentials expired with 4001, and the client reconnects with a fresh token). Browsers cannot set headers
     * on a WebSocket, so it goes in the `access_token` query parameter. Null or empty sends none; a rejection fails
     * that attempt (the client retries with its backoff).
     */
    accessTokenProvider?: () => string | null | undefined | Promise<string | null | undefined>;
    /**
     * Hears what has no caller to tell: a push or state handler that threw, or a failure of the client's own code on a
     * connection (which it then drops and makes again). Default: thrown again outside the client, where the page sees
     * it (console, window.onerror), without stopping the client.
     */
    onError?: (error: unknown) => void;
    /** The WebSocket constructor; default the global one. */
    WebSocket?: new (url: string) => WebSocketLike;
    /** Page visibility and online/offline events; default window and document when present. */
    environment?: EnvironmentLike;
}
/** A server's error reply. */
export declare class OriSocketError extends Error {
    readonly code: string;
    readonly details: readonly ErrorDetail[];
    constructor(code: string, message: string, details?: readonly ErrorDetail[]);
}
/** A send refused: not connected, and the send buffer is full. */
export declare class BufferFullError extends Error {
    constructor(limit: number);
}
/** A request that cannot complete: the connection was lost, or the client is closed. */
export declare class ConnectionLostError extends Error {
    readonly closeCode?: number;
    constructor(message: string, closeCode?: number);
}
/** Exponential backoff with equal jitter: half the delay fixed, half random. */
export declare function backoffDelay(attempt: number, initial: number, max: number, random?: () => number): number;
/**
 * The first reconnect after the server's `ori.draining`: its suggested delay plus up to as much again at random (at
 * least up to the first reconnect delay), so that a server's clients come back spread out rather than in one burst.
 */
export declare function drainDelay(suggested: number, initial: number, random?: () => number): number;
/** The URL with an `access_token` query parameter (replacing one it had). */
export declare function withAccessToken(url: string, token: string): string;
/**
 * The routes a client may call: route name to its request's and reply's data. The server's generated contracts
 * (`/_ori/contracts.ts`, `Routes`) are one; without them every name is allowed and data is unknown.
 */
export type RouteMap<R> = {
    [K in keyof R]: {
        request: unknown;
        reply: unknown;
    };
};
/** Any route: what a client without generated contracts may call. */
export type AnyRoutes = Record<string, {
    request: unknown;
    reply: unknown;
}>;
/** Any push: what a client without generated contracts may listen to. */
export type AnyPushes = Record<string, unknown>;
/**
 * The Ori.Sockets client. With the server's generated contracts as type arguments
 * (`new OriSocketClient<Routes, Pushes>(url)`), `request`, `send` and `on` are checked by the compiler: an unknown
 * route or push, a misspelled member or a wrong type is an error, and a reply has its type.
 */
export declare class OriSocketClient<R extends RouteMap<R> = AnyRoutes, P = AnyPushes> {
    private readonly url;
    private readonly options;
    private readonly handlers;
    private readonly stateHandlers;
    private readonly pending;
    private readonly rooms;
    private readonly positions;
    private readonly recoveryHandlers;
    private readonly buffer;
    private socket;
    private ready;
    private attempts;
    private nextId;
    private timers;
    private heartbeat;
    private pongTimer;
    private reconnectTimer;
    /** The delay `ori.draining` asked for (ms), for the reconnect after the server's 1001; null when none. */
    private drainAfter;
    private currentState;
    private id;
    private readonly onOnline;
    private readonly onOffline;
    private openAttempt;
    private readonly onVisible;
    constructor(url: string, options?: OriSocketClientOptions);
    /** Where the client is. */
    get state(): ConnectionState;
    /** The socket id of the current connection, from ori.ready. */
    get socketId(): string | null;
    /** Messages waiting to be sent. */
    get buffered(): number;
    /** Starts connecting; state changes tell what happens. */
    connect(): void;
    /** Calls handler for every push named name. Reserved ori.* names cannot be listened to. Returns a function that stops it. */
    on<K extends keyof P & string>(name: K, handler: (data: P[K], push: PushInfo) => void): () => void;
    /** Calls handler on every change of state (never caused by a server message's content). */
    onState(handler: (change: StateChange) => void): () => void;
    /**
     * Calls handler when the client learns whether a recoverable topic's continuity held: after every rejoin that asked
     * to recover, and when pushes were missed or the history began again. Returns a function that stops it.
     */
    onRecovery(handler: (recovery: Recovery) => void): () => void;
    /** The last position seen on a recoverable topic (for routes that subscribe on the server and take one), or undefined. */
    position(topic: string): Position | undefined;
    /** Sends a request and resolves with its reply's data; rejects with OriSocketError for an error reply. */
    request<K extends keyof R & string>(type: K, data?: R[K]["request"], options?: {
        timeout?: number;
    }): Promise<R[K]["reply"]>;
    private requestAny;
    /** Sends a message without waiting for a reply; buffered while disconnected. Throws BufferFullError past the limit. */
    send<K extends keyof R & string>(type: K, data?: R[K]["request"]): void;
    /**
     * Joins a room and remembers it: it is joined again after every reconnect, once the server is ready, with the last
     * position seen when the room is recoverable (what was missed comes first, duplicates are dropped).
     */
    joinRoom(room: string): Promise<void>;
    /** Leaves a room and forgets it. */
    leaveRoom(room: string): Promise<void>;
    /** Closes the connection for good; pending requests are rejected. */
    close(): void;
    private open;
    private openSocket;
    private onReady;
    private joinData;
    /** A join's reply, read before the next message: the position it reports (the missed pushes follow it). */
    private joinReply;
    /** Takes a push's position: false for a duplicate; a gap or a new epoch is reported as not recovered. */
    private advance;
    private reportRecovery;
    private rawRequest;
    private onMessage;
    private onClosed;
    private scheduleReconnect;
    private reconnectNow;
    private startHeartbeat;
    private sendOrBuffer;
    private unbuffer;
    private teardown;
    /**
     * Rejects the requests waiting for a reply. With keepBuffered, a request still in the send buffer keeps waiting:
     * it was never sent, and goes out on the next connection (or times out, and leaves the buffer).
     */
    private rejectPending;
    private forgetRoom;
    private setState;
    private reportError;
}
