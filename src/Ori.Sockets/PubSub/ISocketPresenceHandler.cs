namespace Ori.Sockets;

/// <summary>
/// Application code told who joined and left a topic that has presence events (option <c>PresenceEvents</c>), in the
/// same batches as the <c>ori.presence</c> pushes. Register it with <c>AddPresenceHandler</c>. A change is told on one
/// instance: the one where the socket joined or left, or, for an instance that died, the one that found it dead.
/// </summary>
public interface ISocketPresenceHandler
{
    /// <summary>Members joined or left <paramref name="topic"/>.</summary>
    /// <param name="topic">The topic.</param>
    /// <param name="joined">Who joined.</param>
    /// <param name="left">Who left (a socket that closed, or every socket of an instance that died).</param>
    /// <returns>Completes when handled; a failure is logged and does not stop later batches.</returns>
    ValueTask OnPresenceChangedAsync(string topic, IReadOnlyList<SocketPresenceMember> joined, IReadOnlyList<SocketPresenceMember> left);
}
