namespace Ori.Sockets;

/// <summary>
/// The provider boundary: everything a scaling provider implements. The in-process provider is the
/// default; a scaling provider (Redis) replaces it without any change to application code. Local
/// delivery always goes through the <see cref="SocketHub"/>, the native pub/sub core.
/// </summary>
public interface ISocketProvider : ISocketEmitter, ISocketLifecycle, ISocketPresence
{
    /// <summary>Subscribes a local socket to a topic.</summary>
    /// <param name="socketId">A socket connected to this instance.</param>
    /// <param name="topic">A valid topic.</param>
    /// <param name="cancellationToken">Cancels the wait for the backplane.</param>
    /// <returns>Completes when the socket will receive publishes from every instance.</returns>
    ValueTask SubscribeAsync(string socketId, string topic, CancellationToken cancellationToken = default);

    /// <summary>Unsubscribes a local socket from a topic; not an error if it was not subscribed.</summary>
    /// <param name="socketId">A socket connected to this instance.</param>
    /// <param name="topic">A valid topic.</param>
    /// <param name="cancellationToken">Cancels the wait for the backplane.</param>
    /// <returns>Completes when the subscription is gone.</returns>
    ValueTask UnsubscribeAsync(string socketId, string topic, CancellationToken cancellationToken = default);

    /// <summary>Releases everything a closed local socket held (its subscriptions). Called by the runtime.</summary>
    /// <param name="socketId">The socket that closed.</param>
    /// <returns>Completes when its subscriptions are gone.</returns>
    ValueTask ReleaseAsync(string socketId);

    /// <summary>Closes a socket with a normal close (1000), on whichever instance holds it.</summary>
    /// <param name="socketId">The socket's id.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the close has been started or handed to the provider.</returns>
    ValueTask DisconnectAsync(string socketId, CancellationToken cancellationToken = default);

    /// <summary>Whether a socket is connected to this instance and has passed its guards.</summary>
    /// <param name="socketId">The socket's id.</param>
    /// <returns><see langword="true"/> when it is.</returns>
    bool IsConnected(string socketId);

    /// <summary>The number of sockets on this instance that have passed their guards.</summary>
    int ConnectionCount { get; }

    /// <summary>The number of sockets on this instance subscribed to <paramref name="topic"/>.</summary>
    /// <param name="topic">The topic.</param>
    /// <returns>The count, 0 for an unknown topic.</returns>
    int GetSubscriberCount(string topic);
}
