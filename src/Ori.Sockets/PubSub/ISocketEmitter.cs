namespace Ori.Sockets;

/// <summary>
/// What application code uses to send: to a topic's subscribers, to one socket, or to every socket,
/// on every server instance. Inject it anywhere (controllers, handlers, background services). Typed
/// messages are sent with the <c>EmitAsync</c> extensions in <see cref="SocketEmitterExtensions"/>.
/// </summary>
public interface ISocketEmitter
{
    /// <summary>The clock that stamps the pushes built for this emitter (<c>timestamp</c>); the system clock unless the provider uses the application's.</summary>
    TimeProvider TimeProvider => TimeProvider.System;

    /// <summary>Sends <paramref name="frame"/> to every socket subscribed to <paramref name="topic"/>.</summary>
    /// <param name="topic">A valid topic.</param>
    /// <param name="frame">The message, encoded once.</param>
    /// <param name="exceptSocketIds">Sockets that do not get it (usually the sender's), or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the frame is queued for local sockets and handed to the provider; never waits for a slow socket.</returns>
    /// <exception cref="ArgumentException">The topic is not valid.</exception>
    ValueTask PublishAsync(string topic, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default);

    /// <summary>Sends <paramref name="frame"/> to one socket, on whichever instance holds it.</summary>
    /// <param name="socketId">The socket's id.</param>
    /// <param name="frame">The message.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the frame is queued or handed to the provider.</returns>
    ValueTask SendAsync(string socketId, SocketFrame frame, CancellationToken cancellationToken = default);

    /// <summary>Sends <paramref name="frame"/> to every socket that passed its guards, on every instance.</summary>
    /// <param name="frame">The message.</param>
    /// <param name="exceptSocketIds">Sockets that do not get it, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the frame is queued for local sockets and handed to the provider.</returns>
    ValueTask BroadcastAsync(SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default);

    /// <summary>Sends <paramref name="frame"/> to every socket of a user (all their devices), on every instance.</summary>
    /// <param name="userId">The user's id, as the connections carry it (<see cref="SocketContext.UserId"/>).</param>
    /// <param name="frame">The message.</param>
    /// <param name="exceptSocketIds">Sockets that do not get it (the sender's, say), or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the frame is queued for the user's local sockets and handed to the provider.</returns>
    /// <exception cref="ArgumentException">The user id is not valid.</exception>
    ValueTask SendToUserAsync(string userId, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Closes every socket of a user on every instance with 1008 and <paramref name="reason"/>; the bundled clients do
    /// not reconnect after 1008. Connections the user makes afterwards are not refused: revoke their credentials too.
    /// </summary>
    /// <param name="userId">The user's id.</param>
    /// <param name="reason">The close reason (at most 123 bytes of UTF-8 are sent).</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the local sockets are closing and the request is handed to the provider.</returns>
    /// <exception cref="ArgumentException">The user id is not valid.</exception>
    ValueTask DisconnectUserAsync(string userId, string reason, CancellationToken cancellationToken = default);
}
