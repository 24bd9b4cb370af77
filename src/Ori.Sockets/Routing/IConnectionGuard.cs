namespace Ori.Sockets;

/// <summary>
/// Runs once per connection of the endpoints that declare it (<see cref="ConnectionGuardAttribute"/> on a
/// <see cref="SocketEndpointAttribute"/> class), after the WebSocket upgrade and before any client frame is
/// handled. Guards authenticate the connection and set the state its handlers see.
/// </summary>
public interface IConnectionGuard
{
    /// <summary>Decides whether the connection may proceed.</summary>
    /// <param name="context">The connection; set <see cref="ConnectionGuardContext.State"/> to keep data for its handlers.</param>
    /// <returns><see langword="false"/> to refuse (the socket is closed with 1008); an exception or time-out closes with 1011.</returns>
    ValueTask<bool> CanConnectAsync(ConnectionGuardContext context);
}

/// <summary>
/// A connection guard that produces the connection's state: return the state to accept the
/// connection, or <see langword="null"/> to refuse it.
/// </summary>
/// <typeparam name="TState">The state handlers see through <see cref="SocketContext{TState}"/>.</typeparam>
public abstract class ConnectionGuard<TState> : IConnectionGuard where TState : class
{
    /// <summary>Authenticates the connection.</summary>
    /// <param name="context">The connection.</param>
    /// <returns>The connection's state, or <see langword="null"/> to refuse it.</returns>
    protected abstract ValueTask<TState?> AuthenticateAsync(ConnectionGuardContext context);

    /// <inheritdoc />
    public async ValueTask<bool> CanConnectAsync(ConnectionGuardContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var state = await AuthenticateAsync(context).ConfigureAwait(false);
        if (state is null)
        {
            return false;
        }

        context.State = state;
        return true;
    }
}
