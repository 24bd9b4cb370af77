namespace Ori.Sockets;

/// <summary>
/// A place where connections are accepted, mapped with <c>app.MapOriSockets&lt;TEndpoint&gt;(pattern)</c>: the
/// connection guards that run, in order, before any frame of a connection is handled, and the dispatch table
/// of the routers it serves. The source generator implements it for every <see cref="SocketEndpointAttribute"/>
/// class, so that the guards, the state they set and every handler that reads that state are checked together
/// at compile time.
/// </summary>
public interface ISocketEndpoint : ISocketDispatcher
{
    /// <summary>Creates the endpoint's connection guards for one connection, in the order they run.</summary>
    /// <param name="services">The connection's services (a scope that lives as long as the connection).</param>
    /// <returns>The guards; empty when the endpoint accepts every connection.</returns>
    IConnectionGuard[] CreateConnectionGuards(IServiceProvider services);
}
