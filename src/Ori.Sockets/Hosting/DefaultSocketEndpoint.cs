namespace Ori.Sockets.Hosting;

/// <summary>
/// The endpoint <c>MapOriSockets(pattern)</c> maps: no connection guards, and the dispatchers added with
/// <c>AddDispatcher</c> (the generator's table of the routers no endpoint class serves), tried in order.
/// </summary>
internal sealed class DefaultSocketEndpoint(IEnumerable<ISocketDispatcher> dispatchers) : ISocketEndpoint
{
    private readonly ISocketDispatcher[] _dispatchers = [.. dispatchers];

    public IConnectionGuard[] CreateConnectionGuards(IServiceProvider services) => [];

    public bool TryDispatch(ReadOnlySpan<byte> type, SocketInvocation invocation, out ValueTask completion)
    {
        foreach (var dispatcher in _dispatchers)
        {
            if (dispatcher.TryDispatch(type, invocation, out completion))
            {
                return true;
            }
        }

        completion = default;
        return false;
    }
}
