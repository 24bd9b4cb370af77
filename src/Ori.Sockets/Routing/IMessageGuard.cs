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
/// Runs before routed messages (not the heartbeat and not the built-in room types): rate limits, per-operation
/// permissions, feature flags. Declared with <see cref="MessageGuardAttribute"/> on an endpoint class (every route
/// it serves), a router (its routes) or a route; created once per connection in its scope; run by the dispatch
/// table the generator writes, endpoint guards first, then the router's, then the route's. The first verdict
/// other than <see cref="MessageGuardVerdict.Allow"/> wins. A hand-written dispatcher runs guards with
/// <see cref="SocketInvocation.PassesAsync"/>, the same way.
/// </summary>
public interface IMessageGuard
{
    /// <summary>Decides on one message.</summary>
    /// <param name="invocation">The message: its type, data and connection.</param>
    /// <returns>The verdict.</returns>
    ValueTask<MessageGuardVerdict> CheckAsync(SocketInvocation invocation);
}
