namespace Ori.Sockets;

/// <summary>One member of a topic: a socket, its user, and when it joined.</summary>
/// <param name="SocketId">The socket's id.</param>
/// <param name="UserId">The socket's user id, or <see langword="null"/> for an anonymous socket.</param>
/// <param name="Since">When the socket joined the topic.</param>
public sealed record SocketPresenceMember(string SocketId, string? UserId, DateTimeOffset Since);

/// <summary>Who is subscribed to a topic, across every instance the provider spans.</summary>
/// <param name="Topic">The topic.</param>
/// <param name="Members">Its members, oldest first.</param>
public sealed record SocketPresence(string Topic, IReadOnlyList<SocketPresenceMember> Members)
{
    /// <summary>How many members the topic has.</summary>
    public int Count => Members.Count;
}

/// <summary>How many sockets each instance holds (those that passed their guards).</summary>
/// <param name="PerInstance">Connections by instance id (this instance's included).</param>
public sealed record SocketConnectionCounts(IReadOnlyDictionary<string, int> PerInstance)
{
    /// <summary>Connections on every instance together.</summary>
    public int Total => PerInstance.Values.Sum();
}

/// <summary>Answers who is in a topic. Inject it anywhere; the provider decides how far it sees (every instance with Redis).</summary>
public interface ISocketPresence
{
    /// <summary>The members of <paramref name="topic"/>.</summary>
    /// <param name="topic">A valid topic.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>The topic's members; none for a topic nobody has joined.</returns>
    /// <exception cref="ArgumentException">The topic is not valid.</exception>
    ValueTask<SocketPresence> GetPresenceAsync(string topic, CancellationToken cancellationToken = default);

    /// <summary>
    /// Connections per instance and in all. With Redis each instance's count is the one it reported at its last presence
    /// heartbeat, and instances that stopped beating are left out.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>The counts.</returns>
    ValueTask<SocketConnectionCounts> GetConnectionCountsAsync(CancellationToken cancellationToken = default);

    /// <summary>The sockets of a user on every instance, with when each became ready (<c>Since</c>); oldest first.</summary>
    /// <param name="userId">A valid user id.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>The user's sockets; none when the user has no connection.</returns>
    /// <exception cref="ArgumentException">The user id is not valid.</exception>
    ValueTask<IReadOnlyList<SocketPresenceMember>> GetUserSocketsAsync(string userId, CancellationToken cancellationToken = default);
}
