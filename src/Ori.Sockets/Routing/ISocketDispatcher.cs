namespace Ori.Sockets;

/// <summary>
/// The dispatch table of an application: maps a route name to its handler. The source generator
/// emits one per compilation (a switch on the name's UTF-8 length, then a byte comparison, then a
/// direct typed call); the runtime never uses reflection to find or call handlers.
/// </summary>
public interface ISocketDispatcher
{
    /// <summary>
    /// Starts the handler of <paramref name="type"/>, if there is one. The handler reads
    /// <see cref="SocketInvocation.Data"/> and replies through <paramref name="invocation"/>.
    /// </summary>
    /// <param name="type">The envelope's <c>type</c>, as UTF-8.</param>
    /// <param name="invocation">The message being handled; valid until <paramref name="completion"/> completes.</param>
    /// <param name="completion">Completes when the handler has finished and replied.</param>
    /// <returns><see langword="false"/> when no route has this name (the runtime replies <c>unknown_type</c>).</returns>
    bool TryDispatch(ReadOnlySpan<byte> type, SocketInvocation invocation, out ValueTask completion);
}
