namespace Ori.Sockets;

/// <summary>
/// Hears when a connection becomes ready (its guards passed and <c>ori.ready</c> was sent) and when it
/// has ended (it has left every topic). Presence, audit and per-user bookkeeping belong here.
/// Handlers are resolved from the connection's services; register them with
/// <c>OriSocketsBuilder.AddConnectionHandler</c>.
/// </summary>
public interface ISocketConnectionHandler
{
    /// <summary>
    /// Called once the connection is ready, before its first message is handled. An exception closes
    /// the connection with 1011 and is logged.
    /// </summary>
    /// <param name="context">The connection.</param>
    /// <returns>Completes when the handler is done; messages wait until then.</returns>
    ValueTask OnConnectedAsync(SocketContext context);

    /// <summary>
    /// Called once when a connection that was ready has ended, after it left the hub and its topics.
    /// Sending to the socket itself is no longer possible; publishing to others is. Exceptions are logged.
    /// </summary>
    /// <param name="context">The connection.</param>
    /// <returns>Completes when the handler is done.</returns>
    ValueTask OnDisconnectedAsync(SocketContext context);
}
