namespace Ori.Sockets;

/// <summary>A listener served by Ori.Sockets from the transport up (<c>ListenOptions.UseOriSockets</c>).</summary>
public sealed class OriSocketsListenerOptions
{
    /// <summary>The path of the WebSocket endpoint (compared without case; the query string is free). Default <c>/ws</c>.</summary>
    public string Path { get; set; } = "/ws";

    /// <summary>
    /// How long a connection may take to send its upgrade request's head before it is answered 408 and closed (a slow
    /// client holds a connection while it sends). Default 10 s.
    /// </summary>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest request head (request line and headers) in bytes; a larger one is answered 431. Default 32 KiB, as Kestrel's.</summary>
    public int MaxRequestHeadersSize { get; set; } = 32 * 1024;

    /// <summary>
    /// Whether the listener's sockets are accepted and served by Ori.Sockets' own transport (the default): no pipes, no
    /// buffer held by an idle socket, writes sent from the connection's own buffers. False keeps Kestrel's socket
    /// transport (its socket options, <c>UseSockets</c>, apply then). Endpoints other than IP addresses (a Unix socket,
    /// a handle) always use Kestrel's transport.
    /// </summary>
    public bool OwnTransport { get; set; } = true;
}
