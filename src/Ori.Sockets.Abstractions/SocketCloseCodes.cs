namespace Ori.Sockets;

/// <summary>The WebSocket close codes the server uses (protocol section 4).</summary>
public static class SocketCloseCodes
{
    /// <summary>Normal close.</summary>
    public const int Normal = 1000;

    /// <summary>The server is shutting down.</summary>
    public const int GoingAway = 1001;

    /// <summary>The peer broke the WebSocket framing rules (RFC 6455).</summary>
    public const int ProtocolError = 1002;

    /// <summary>A binary frame was received; the protocol is text only.</summary>
    public const int UnsupportedData = 1003;

    /// <summary>A text message was not valid UTF-8.</summary>
    public const int InvalidPayload = 1007;

    /// <summary>A connection guard refused the connection. Clients must not reconnect automatically.</summary>
    public const int PolicyViolation = 1008;

    /// <summary>A message was larger than the receive limit.</summary>
    public const int MessageTooBig = 1009;

    /// <summary>A guard or the server failed.</summary>
    public const int InternalError = 1011;

    /// <summary>The socket was silent for longer than the server's idle timeout.</summary>
    public const int IdleTimeout = 4000;

    /// <summary>The connection's credentials expired: the client reconnects with fresh ones (its token provider is asked again).</summary>
    public const int CredentialsExpired = 4001;

    /// <summary>Slow consumer: the socket's outbound queue passed its bound.</summary>
    public const int SlowConsumer = 4008;
}
