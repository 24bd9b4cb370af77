namespace Ori.Sockets;

/// <summary>
/// Decides which rooms (topics) a client may join with <c>room.join</c>. With no rule registered,
/// every client join is refused; topics beginning with <c>__</c> are refused whatever the rules say.
/// A join is allowed when any registered rule allows it.
/// </summary>
public interface ISocketRoomRule
{
    /// <summary>Whether the connection may join <paramref name="room"/>.</summary>
    /// <param name="context">The connection asking.</param>
    /// <param name="room">A valid topic name.</param>
    /// <returns><see langword="true"/> to allow the join.</returns>
    ValueTask<bool> CanJoinAsync(SocketContext context, string room);
}
