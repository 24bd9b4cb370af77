namespace Ori.Sockets.Client;

/// <summary>How an <see cref="OriSocketClient"/> connects, waits, reconnects and buffers.</summary>
public sealed class OriSocketClientOptions
{
    /// <summary>How long a connection may take until <c>ori.ready</c> (upgrade and guards included); default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a request waits for its reply; default 10 s.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The first reconnect delay; each attempt doubles it (with jitter) up to <see cref="ReconnectMaxDelay"/>. Default 500 ms.</summary>
    public TimeSpan ReconnectInitialDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest reconnect delay; default 20 s.</summary>
    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Reconnect attempts after a connection is lost before the client gives up; null (default) never gives up; 0 never reconnects.</summary>
    public int? MaxReconnectAttempts { get; set; }

    /// <summary>How often the client sends the <c>2</c> heartbeat; default 25 s. Zero turns the heartbeat off.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>How long the client waits for <c>3</c> before it treats the connection as dead and reconnects; default 5 s.</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How many sends and requests are kept while the client is not connected, and sent once it is
    /// ready again (after its rooms are joined again); default 256. Past it a send fails at once with
    /// <see cref="OriSocketBufferFullException"/>: the newest is refused, nothing buffered is dropped.
    /// </summary>
    public int SendBufferLimit { get; set; } = 256;

    /// <summary>The clock of every time limit and delay of the client (connect, request and heartbeat time limits, heartbeat interval, reconnect backoff); the system clock by default.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>The largest message the client accepts; default 1 MiB. A larger one closes the connection (1009).</summary>
    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Opens the WebSocket of each connection attempt in place of a <see cref="System.Net.WebSockets.ClientWebSocket"/>:
    /// given the server's URI and the request headers the client would send (<c>Authorization</c>, from
    /// <see cref="AccessTokenProvider"/>), it returns an open WebSocket. Null (default) uses a <c>ClientWebSocket</c>
    /// configured by <see cref="ConfigureSocket"/>. Ori.Sockets.Testing uses it to reach an in-memory server.
    /// </summary>
    public Func<Uri, IReadOnlyDictionary<string, string>, CancellationToken, ValueTask<System.Net.WebSockets.WebSocket>>? WebSocketFactory { get; set; }

    /// <summary>Sets up the underlying <see cref="System.Net.WebSockets.ClientWebSocket"/> (headers, proxy, certificates) before each connection.</summary>
    public Action<System.Net.WebSockets.ClientWebSocketOptions>? ConfigureSocket { get; set; }

    /// <summary>
    /// Gives the access token for each connection attempt, the first and every reconnect (a server closes a socket whose
    /// credentials expired with 4001, and the client reconnects with a fresh token): sent as <c>Authorization: Bearer</c>.
    /// Null or empty sends none. An exception fails that attempt (the client retries with its backoff).
    /// </summary>
    public Func<CancellationToken, ValueTask<string?>>? AccessTokenProvider { get; set; }
}

/// <summary>Where a client is in its life.</summary>
public enum OriSocketClientState
{
    /// <summary>Not connected, and not trying (before <c>ConnectAsync</c>, or after giving up).</summary>
    Disconnected,

    /// <summary>Connecting for the first time.</summary>
    Connecting,

    /// <summary>Connected and ready: <c>ori.ready</c> received.</summary>
    Connected,

    /// <summary>The connection was lost; trying again.</summary>
    Reconnecting,

    /// <summary>Closed for good: disposed, or refused by the server (1008).</summary>
    Closed,
}

/// <summary>A change of <see cref="OriSocketClient.State"/>.</summary>
/// <param name="Previous">The state before.</param>
/// <param name="Current">The state now.</param>
/// <param name="CloseStatus">The WebSocket close code that caused it, when there was one.</param>
/// <param name="Reason">Why, in words.</param>
public sealed record OriSocketClientStateChange(OriSocketClientState Previous, OriSocketClientState Current, int? CloseStatus, string? Reason);

/// <summary>
/// What a client learned of a recoverable topic's continuity (protocol section 8): after a rejoin with its last
/// position, whether the server delivered everything missed; or that pushes were missed on a live connection, or the
/// topic's history began again (then <see cref="Recovered"/> is false: refetch the state the topic's pushes build).
/// </summary>
/// <param name="Topic">The topic (room).</param>
/// <param name="Recovered">Whether nothing was lost: every push after the last one seen is (or will be) delivered, in order.</param>
/// <param name="Position">The position the client holds now: the last push seen, or the topic's latest when it was not recovered.</param>
public sealed record OriSocketRecovery(string Topic, bool Recovered, SocketPosition Position);

/// <summary>A server's error reply: its code (<see cref="SocketErrorCodes"/>), message and details.</summary>
public sealed class OriSocketErrorException : Exception
{
    /// <summary>Creates the exception.</summary>
    public OriSocketErrorException()
        : this("internal_error", "The server replied with an error.", [])
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public OriSocketErrorException(string message)
        : this("internal_error", message, [])
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public OriSocketErrorException(string message, Exception innerException)
        : base(message, innerException)
    {
        Code = "internal_error";
        Details = [];
    }

    /// <summary>Creates the exception from an error reply.</summary>
    /// <param name="code">The error code.</param>
    /// <param name="message">The server's message.</param>
    /// <param name="details">The failures with their JSON paths (validation_failed).</param>
    public OriSocketErrorException(string code, string message, IReadOnlyList<SocketValidationError> details)
        : base(message)
    {
        Code = code;
        Details = details;
    }

    /// <summary>The error code, such as <c>validation_failed</c> or <c>forbidden</c>.</summary>
    public string Code { get; }

    /// <summary>The failures, each with its JSON path.</summary>
    public IReadOnlyList<SocketValidationError> Details { get; }
}

/// <summary>A send refused because the client is not connected and its send buffer is full.</summary>
public sealed class OriSocketBufferFullException : Exception
{
    /// <summary>Creates the exception.</summary>
    public OriSocketBufferFullException()
        : base("The client is not connected and its send buffer is full.")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public OriSocketBufferFullException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public OriSocketBufferFullException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A request that could not complete because the connection was lost or the client closed.</summary>
public sealed class OriSocketConnectionException : Exception
{
    /// <summary>Creates the exception.</summary>
    public OriSocketConnectionException()
        : base("The connection was lost.")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public OriSocketConnectionException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public OriSocketConnectionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The WebSocket close code, when the server closed the connection.</summary>
    public int? CloseStatus { get; init; }
}
