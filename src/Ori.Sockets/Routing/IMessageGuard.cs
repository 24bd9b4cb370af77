namespace Ori.Sockets;

/// <summary>What a message guard decides about one message.</summary>
public enum MessageGuardVerdict
{
    /// <summary>Handle the message.</summary>
    Allow,

    /// <summary>Do not handle it; reply <c>forbidden</c>.</summary>
    Forbid,

    /// <summary>Do not handle it; reply <c>rate_limited</c>.</summary>
    RateLimit,

    /// <summary>Do not handle it and close the socket with 1008 (repeated abuse). The client must not reconnect automatically.</summary>
    Close,
}

/// <summary>
/// Runs before every routed message of a connection (not the heartbeat and not the built-in room
/// types): rate limits, per-operation permissions, feature flags. Registered with
/// <c>AddMessageGuard</c>, created once per connection in its scope, and run in the order added;
/// the first verdict other than <see cref="MessageGuardVerdict.Allow"/> wins. The generator also
/// runs the guards a route declares, through the same interface.
/// </summary>
public interface IMessageGuard
{
    /// <summary>Decides on one message.</summary>
    /// <param name="invocation">The message: its type, data and connection.</param>
    /// <returns>The verdict.</returns>
    ValueTask<MessageGuardVerdict> CheckAsync(SocketInvocation invocation);
}
