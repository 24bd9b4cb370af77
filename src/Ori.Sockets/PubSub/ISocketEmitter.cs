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
    /// <param name="exceptSocketId">A socket that does not get it (usually the sender), or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the frame is queued for local sockets and handed to the provider; never waits for a slow socket.</returns>
    /// <exception cref="ArgumentException">The topic is not valid.</exception>
    ValueTask PublishAsync(string topic, SocketFrame frame, string? exceptSocketId = null, CancellationToken cancellationToken = default);

    /// <summary>Sends <paramref name="frame"/> to one socket, on whichever instance holds it.</summary>
    /// <param name="socketId">The socket's id.</param>
    /// <param name="frame">The message.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the frame is queued or handed to the provider.</returns>
    ValueTask SendAsync(string socketId, SocketFrame frame, CancellationToken cancellationToken = default);

    /// <summary>Sends <paramref name="frame"/> to every socket that passed its guards, on every instance.</summary>
    /// <param name="frame">The message.</param>
    /// <param name="exceptSocketId">A socket that does not get it, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the frame is queued for local sockets and handed to the provider.</returns>
    ValueTask BroadcastAsync(SocketFrame frame, string? exceptSocketId = null, CancellationToken cancellationToken = default);
}
