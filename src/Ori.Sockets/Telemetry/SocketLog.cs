using Microsoft.Extensions.Logging;

namespace Ori.Sockets.Telemetry;

/// <summary>Log messages of connections. Never payloads, tokens or exception text for clients.</summary>
internal static partial class SocketLog
{
    /// <summary>The category every Ori.Sockets runtime log is written under.</summary>
    public const string Category = "Ori.Sockets";

    [LoggerMessage(1, LogLevel.Debug, "Socket {SocketId} connected and passed its guards.")]
    public static partial void Connected(ILogger logger, string socketId);

    [LoggerMessage(2, LogLevel.Debug, "Socket {SocketId} disconnected.")]
    public static partial void Disconnected(ILogger logger, string socketId);

    [LoggerMessage(3, LogLevel.Debug, "Socket {SocketId} is closing with code {CloseCode}.")]
    public static partial void Closing(ILogger logger, string socketId, int closeCode);

    [LoggerMessage(4, LogLevel.Warning, "Socket {SocketId} is a slow consumer ({QueuedBytes} bytes queued); closing it with 4008.")]
    public static partial void SlowConsumer(ILogger logger, string socketId, long queuedBytes);

    [LoggerMessage(5, LogLevel.Information, "Socket {SocketId} was refused by connection guard {Guard}.")]
    public static partial void GuardRefused(ILogger logger, string socketId, string guard);

    [LoggerMessage(6, LogLevel.Warning, "The connection guards of socket {SocketId} timed out.")]
    public static partial void GuardTimedOut(ILogger logger, string socketId);

    [LoggerMessage(7, LogLevel.Error, "A connection guard of socket {SocketId} threw.")]
    public static partial void GuardFailed(ILogger logger, string socketId, Exception exception);

    [LoggerMessage(8, LogLevel.Warning, "Socket {SocketId} broke the protocol; closing it with {CloseCode}.")]
    public static partial void ProtocolViolation(ILogger logger, string socketId, int closeCode);

    [LoggerMessage(9, LogLevel.Error, "The provider failed to release the subscriptions of socket {SocketId}.")]
    public static partial void ProviderReleaseFailed(ILogger logger, string socketId, Exception exception);

    [LoggerMessage(10, LogLevel.Error, "The handler of '{Type}' failed on socket {SocketId}.")]
    public static partial void HandlerFailed(ILogger logger, string socketId, string type, Exception exception);

    [LoggerMessage(11, LogLevel.Information, "A WebSocket upgrade from origin {Origin} was refused (not on the allow-list).")]
    public static partial void OriginRefused(ILogger logger, string origin);

    /// <summary>
    /// Text a client sent, made safe for a log: control characters (a newline could forge a log line) escaped as
    /// <c>\uXXXX</c>, cut to <paramref name="limit"/> characters.
    /// </summary>
    public static string ClientText(string? text, int limit = 200)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        var builder = new System.Text.StringBuilder(Math.Min(text.Length, limit) + 16);
        foreach (var c in text)
        {
            if (builder.Length >= limit)
            {
                builder.Append("…(").Append(text.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(" characters)");
                break;
            }

            if (char.IsControl(c))
            {
                builder.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    [LoggerMessage(12, LogLevel.Information, "A WebSocket upgrade was refused by the upgrade hook.")]
    public static partial void UpgradeRefused(ILogger logger);

    [LoggerMessage(13, LogLevel.Warning, "The upgrade hook timed out.")]
    public static partial void UpgradeTimedOut(ILogger logger);

    [LoggerMessage(15, LogLevel.Warning, "Message guard {Guard} closed socket {SocketId} with 1008.")]
    public static partial void MessageGuardClosed(ILogger logger, string socketId, string guard);

    [LoggerMessage(14, LogLevel.Information, "Closing {Count} sockets over {WindowMs} ms: the server is shutting down (clients are asked to wait {ReconnectAfterMs} ms before they reconnect).")]
    public static partial void ShuttingDown(ILogger logger, int count, long windowMs, long reconnectAfterMs);

    [LoggerMessage(16, LogLevel.Error, "Connection handler {Handler} failed for socket {SocketId}.")]
    public static partial void ConnectionHandlerFailed(ILogger logger, string socketId, string handler, Exception exception);

    [LoggerMessage(17, LogLevel.Warning, "Socket {SocketId} kept sending far past its message budget; closing it with 1008.")]
    public static partial void RateLimitClosed(ILogger logger, string socketId);

    [LoggerMessage(18, LogLevel.Information, "A WebSocket upgrade was refused: too many connection attempts ({Partition}).")]
    public static partial void UpgradeRateLimited(ILogger logger, string partition);

    [LoggerMessage(19, LogLevel.Information, "The credentials of socket {SocketId} expired; closing it with 4001.")]
    public static partial void CredentialsExpired(ILogger logger, string socketId);

    [LoggerMessage(20, LogLevel.Warning, "Socket {SocketId} did not complete a fragmented message in time; closing it with 1008.")]
    public static partial void MessageTooSlow(ILogger logger, string socketId);

    [LoggerMessage(21, LogLevel.Error, "The handler of '{Type}' failed {Suppressed} more times in the last interval; those were not logged.")]
    public static partial void HandlerFailuresSuppressed(ILogger logger, string type, int suppressed);

    [LoggerMessage(22, LogLevel.Warning, "Socket {SocketId}: '{Type}' was answered unavailable: {Reason} ({Suppressed} more since the last entry of this kind).")]
    public static partial void DependencyUnavailable(ILogger logger, string socketId, string type, string reason, int suppressed);

    [LoggerMessage(23, LogLevel.Error, "Socket {SocketId}: its user id '{UserId}' is not valid (1-256 characters, no control characters or white space); the connection fails (1011).")]
    public static partial void InvalidUserId(ILogger logger, string socketId, string userId);

    [LoggerMessage(24, LogLevel.Warning, "A presence push of '{Topic}' reached this instance's sockets only: {Reason}")]
    public static partial void PresencePushFailed(ILogger logger, string topic, string reason);

    [LoggerMessage(25, LogLevel.Error, "The presence handler {Handler} failed on '{Topic}'.")]
    public static partial void PresenceHandlerFailed(ILogger logger, string handler, string topic, Exception exception);

    [LoggerMessage(40, LogLevel.Warning, "The outbound budget of {Budget} bytes stayed spent while a publish waited: closed {Count} sockets holding the most (4008).")]
    public static partial void OutboundBudgetShed(ILogger logger, long budget, int count);

    [LoggerMessage(41, LogLevel.Debug, "A socket listener answered {Status} to {Address}: {Reason}")]
    public static partial void ListenerRefused(ILogger logger, int status, string address, string reason);

    [LoggerMessage(42, LogLevel.Error, "A socket listener's handshake failed; the connection was answered 500 and closed.")]
    public static partial void ListenerFailed(ILogger logger, Exception exception);

    [LoggerMessage(43, LogLevel.Error, "A connection served directly by a socket listener ended with an unexpected error; it was closed.")]
    public static partial void ListenerConnectionFailed(ILogger logger, Exception exception);

    [LoggerMessage(44, LogLevel.Warning, "A socket listener could not accept a connection ({Error}); it tries again in {RetryMilliseconds} ms.")]
    public static partial void ListenerAcceptFailed(ILogger logger, string error, int retryMilliseconds, Exception exception);
}
