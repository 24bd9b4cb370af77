using Microsoft.AspNetCore.Http;

namespace Ori.Sockets;

/// <summary>
/// Options of the Ori.Sockets server, bound from the configuration section <c>Ori:Sockets</c> and
/// then from the delegate given to <c>AddOriSockets</c>. Checked at start-up.
/// </summary>
public sealed class OriSocketsOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "Ori:Sockets";

    /// <summary>
    /// Origins (<c>scheme://host[:port]</c>) that browsers may connect from. Empty: only the same origin
    /// as the request's host. Requests without an <c>Origin</c> header (non-browser clients) are allowed.
    /// </summary>
    public IList<string> AllowedOrigins { get; } = new List<string>();

    /// <summary>
    /// Topics that keep a history (protocol section 8), bound from <c>Ori:Sockets:RecoverableTopics</c> (a list of
    /// <c>Pattern</c>, <c>MaxMessages</c>, <c>MaxAge</c>) and added to by <c>AddRecoverableTopics</c>. The first pattern
    /// that matches a topic sets its bounds.
    /// </summary>
    public IList<RecoverableTopicOptions> RecoverableTopics { get; } = new List<RecoverableTopicOptions>();

    /// <summary>How long the upgrade hook may take before the request gets HTTP 503. Default 5 s.</summary>
    public TimeSpan UpgradeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long the connection guards may take before the socket is closed with 1011. Default 10 s.</summary>
    public TimeSpan GuardTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A socket silent for longer than this is closed with 4000. Default 60 s; <see cref="TimeSpan.Zero"/> turns it off.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a closing socket may take to finish the close handshake before it is aborted. Default 5 s.</summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// On shutdown the sockets are closed with 1001 one after another over this window, so that their clients do not all
    /// reconnect (to the other instances) in the same second. Default 5 s; <see cref="TimeSpan.Zero"/> closes them all at
    /// once. Never longer than the host's shutdown timeout leaves room for: it is cut to that timeout less
    /// <see cref="CloseTimeout"/>.
    /// </summary>
    public TimeSpan DrainWindow { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The delay the <c>ori.draining</c> push suggests to clients before they reconnect, once their socket is closed; the
    /// clients add up to as much again at random. Default 1 s.
    /// </summary>
    public TimeSpan DrainReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The largest message accepted, in bytes, measured on the reassembled message. Default 64 KiB; larger closes with 1009.</summary>
    public int ReceiveLimit { get; set; } = 64 * 1024;

    /// <summary>
    /// How long a fragmented message may take from its first fragment to its last; past it the socket is closed with
    /// 1008 (a client that drips fragments would otherwise hold its socket and its buffer however long it likes, its
    /// frames counting as activity). Zero turns it off. Default 10 seconds.
    /// </summary>
    public TimeSpan FragmentedMessageTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The longest a message waits on the provider and what stands behind it (Redis, say): a subscribe, an unsubscribe,
    /// or a publish, send or broadcast made through <c>ISocketEmitter</c>. Past it the message is answered
    /// <c>unavailable</c> (a subscription that did not complete is undone). Providers bound their own work more tightly
    /// (the Redis provider by its operation time-out); this bounds any provider. Default 10 seconds.
    /// </summary>
    public TimeSpan DependencyTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Takes a connection's user id from the upgraded request's user when no connection guard set one. Default: the name
    /// identifier claim (<see cref="System.Security.Claims.ClaimTypes.NameIdentifier"/>) of an authenticated user, else
    /// none. Return <see langword="null"/> for an anonymous socket.
    /// </summary>
    public Func<System.Security.Claims.ClaimsPrincipal, string?> UserIdFromClaims { get; set; } = static user =>
        user.Identity?.IsAuthenticated == true ? user.FindFirst(System.Security.Claims.ClaimTypes.NameIdentifier)?.Value : null;

    /// <summary>
    /// The topics whose members are told who joins and leaves, by the reserved push <c>ori.presence</c> (protocol section
    /// 7), gathered over <see cref="PresenceEventsWindow"/>. Default none (<see langword="null"/>).
    /// </summary>
    public Func<string, bool>? PresenceEvents { get; set; }

    /// <summary>How long joins and leaves are gathered into one <c>ori.presence</c> push per topic. Default 200 ms.</summary>
    public TimeSpan PresenceEventsWindow { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The deepest JSON nesting accepted in a message. Default 32.</summary>
    public int MaxJsonDepth { get; set; } = 32;

    /// <summary>
    /// The most topics one socket may be subscribed to, joined by the client (<c>room.join</c>) or subscribed by the
    /// server: past it a join is answered <c>rate_limited</c> (a server-side subscribe throws
    /// <see cref="SocketLimitExceededException"/>) and the socket keeps the rooms it has. Default 1,000 (protocol section 9).
    /// </summary>
    public int MaxRoomsPerSocket { get; set; } = 1000;

    /// <summary>
    /// The messages one connection may send per second, sustained (every text message but the heartbeat <c>2</c>);
    /// past its budget a message is answered <c>rate_limited</c>. 0 turns the limit off. Default 100.
    /// Routes and routers may have budgets of their own (<see cref="RateLimitAttribute"/>).
    /// </summary>
    public double MessagesPerSecond { get; set; } = 100;

    /// <summary>The messages one connection may send at once, above <see cref="MessagesPerSecond"/>. Default 200.</summary>
    public int MessageBurst { get; set; } = 200;

    /// <summary>
    /// A client refused this many times its burst in a row (by any of its budgets) is closed with 1008: it keeps going
    /// far past its limit. 0 never closes. Default 5.
    /// </summary>
    public int RateLimitCloseFactor { get; set; } = 5;

    /// <summary>
    /// Upgrades one remote address may make per minute; past it the upgrade is answered 429 with a problem body and
    /// <c>Retry-After</c>, before any WebSocket exists. 0 turns the limit off (the default: behind a proxy every
    /// client has the proxy's address; use forwarded headers first).
    /// </summary>
    public int ConnectionsPerMinutePerAddress { get; set; }

    /// <summary>Upgrades one authenticated user (by name) may make per minute; past it, 429. 0 turns the limit off (the default).</summary>
    public int ConnectionsPerMinutePerUser { get; set; }

    /// <summary>The most bytes queued for one socket; a socket past it is closed with 4008. Default 1 MiB.</summary>
    public long OutboundQueueLimit { get; set; } = 1024 * 1024;

    /// <summary>
    /// The most bytes queued for all sockets together (a frame counts once per socket it waits for). Past it, publishes,
    /// broadcasts and sends to users wait until the sockets' writers have brought it back to half, so that a burst does
    /// not run ahead of the sockets by its whole backlog (memory, and latency for every subscriber); a publish that has
    /// waited 5 s closes the sockets holding the most with 4008, as slow consumers. Default 16 MiB; 0 turns it off.
    /// </summary>
    public long OutboundBudget { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// The <see cref="OutboundBudget"/> is at least this many bytes per open connection (from 2,048 connections on with
    /// the defaults), so that each socket's share stays large enough for one write to carry several frames: at 5,000
    /// subscribers a fixed 16 MiB left 3.3 KB each, and every write a socket made carried about 30 pushes instead of 55
    /// to 90 (fewer writes, less CPU per delivery). Default 8 KiB; 0 keeps the budget fixed.
    /// </summary>
    public long OutboundBudgetPerConnection { get; set; } = 8 * 1024;

    /// <summary>
    /// Inspects the HTTP request before the upgrade. Return <see langword="false"/> to refuse it with
    /// HTTP 401; set <see cref="SocketUpgradeContext.Data"/> to attach data to the connection.
    /// </summary>
    public Func<SocketUpgradeContext, ValueTask<bool>>? OnUpgrade { get; set; }
}

/// <summary>The HTTP request an upgrade hook decides on.</summary>
public sealed class SocketUpgradeContext
{
    internal SocketUpgradeContext(HttpContext httpContext, CancellationToken cancellationToken)
    {
        HttpContext = httpContext;
        CancellationToken = cancellationToken;
    }

    /// <summary>The request (headers, query, cookies, user).</summary>
    public HttpContext HttpContext { get; }

    /// <summary>Data to attach to the connection; guards and handlers see it as <c>UpgradeData</c>.</summary>
    public object? Data { get; set; }

    /// <summary>Canceled when the hook's time limit passes or the request is aborted.</summary>
    public CancellationToken CancellationToken { get; }
}

/// <summary>Recoverable topics and the bounds of their histories.</summary>
public sealed class RecoverableTopicOptions
{
    /// <summary>A topic, or a topic prefix followed by <c>*</c> (<c>incidents:*</c>; <c>*</c> alone: every topic).</summary>
    public string Pattern { get; set; } = string.Empty;

    /// <summary>The most pushes kept per topic. Default 100.</summary>
    public int MaxMessages { get; set; } = 100;

    /// <summary>The oldest push kept. Default 10 minutes.</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The declarations of <paramref name="options"/>, checked (the validator has reported bad ones at start).</summary>
    internal static Ori.Sockets.PubSub.RecoverableTopic[] All(OriSocketsOptions options) =>
        [.. options.RecoverableTopics.Select(o => Ori.Sockets.PubSub.RecoverableTopic.Create(o.Pattern, o.MaxMessages, o.MaxAge))];

    /// <summary>Why this declaration is not valid, or null.</summary>
    internal string? Problem()
    {
        try
        {
            Ori.Sockets.PubSub.RecoverableTopic.Create(Pattern, MaxMessages, MaxAge);
            return null;
        }
        catch (ArgumentException ex)
        {
            return $"Ori:Sockets:RecoverableTopics '{Pattern}': {ex.Message}";
        }
    }
}
