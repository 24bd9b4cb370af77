using Ori.Sockets.Protocol;

namespace Ori.Sockets;

/// <summary>Raw-text and typed sends on top of <see cref="ISocketEmitter"/>.</summary>
public static class SocketEmitterExtensions
{
    /// <summary>Publishes raw text (sent as is) to a topic.</summary>
    /// <param name="emitter">The emitter.</param>
    /// <param name="topic">A valid topic.</param>
    /// <param name="text">The text frame to send.</param>
    /// <param name="exceptSocketIds">Sockets that do not get it, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the frame is queued and handed to the provider.</returns>
    public static ValueTask PublishAsync(this ISocketEmitter emitter, string topic, string text, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(emitter);
        return emitter.PublishAsync(topic, SocketFrame.Text(text), exceptSocketIds, cancellationToken);
    }

    /// <summary>Sends raw text (sent as is) to one socket.</summary>
    /// <param name="emitter">The emitter.</param>
    /// <param name="socketId">The socket's id.</param>
    /// <param name="text">The text frame to send.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the frame is queued or handed to the provider.</returns>
    public static ValueTask SendAsync(this ISocketEmitter emitter, string socketId, string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(emitter);
        return emitter.SendAsync(socketId, SocketFrame.Text(text), cancellationToken);
    }

    /// <summary>Sends raw text (sent as is) to every socket.</summary>
    /// <param name="emitter">The emitter.</param>
    /// <param name="text">The text frame to send.</param>
    /// <param name="exceptSocketIds">Sockets that do not get it, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the frame is queued and handed to the provider.</returns>
    public static ValueTask BroadcastAsync(this ISocketEmitter emitter, string text, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(emitter);
        return emitter.BroadcastAsync(SocketFrame.Text(text), exceptSocketIds, cancellationToken);
    }

    /// <summary>Validates a typed message and publishes it to a topic in the push envelope <c>{name, data, timestamp}</c>.</summary>
    /// <typeparam name="TMessage">The message type.</typeparam>
    /// <param name="emitter">The emitter.</param>
    /// <param name="topic">A valid topic.</param>
    /// <param name="message">The message.</param>
    /// <param name="exceptSocketIds">Sockets that do not get it, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the frame is queued and handed to the provider.</returns>
    /// <exception cref="SocketValidationException">The message is not valid.</exception>
    public static ValueTask EmitAsync<TMessage>(this ISocketEmitter emitter, string topic, TMessage message, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
        where TMessage : ISocketMessage<TMessage>
    {
        ArgumentNullException.ThrowIfNull(emitter);
        return emitter.PublishAsync(topic, CreatePush(message, emitter.TimeProvider), exceptSocketIds, cancellationToken);
    }

    /// <summary>Validates a typed message and sends it to one socket in the push envelope.</summary>
    /// <typeparam name="TMessage">The message type.</typeparam>
    /// <param name="emitter">The emitter.</param>
    /// <param name="socketId">The socket's id.</param>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the frame is queued or handed to the provider.</returns>
    /// <exception cref="SocketValidationException">The message is not valid.</exception>
    public static ValueTask EmitToSocketAsync<TMessage>(this ISocketEmitter emitter, string socketId, TMessage message, CancellationToken cancellationToken = default)
        where TMessage : ISocketMessage<TMessage>
    {
        ArgumentNullException.ThrowIfNull(emitter);
        return emitter.SendAsync(socketId, CreatePush(message, emitter.TimeProvider), cancellationToken);
    }

    /// <summary>Validates a typed message and sends it to every socket of a user, on every instance, in the push envelope.</summary>
    /// <typeparam name="TMessage">The message type.</typeparam>
    /// <param name="emitter">The emitter.</param>
    /// <param name="userId">The user's id.</param>
    /// <param name="message">The message.</param>
    /// <param name="exceptSocketIds">Sockets that do not get it, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the frame is queued for the user's local sockets and handed to the provider.</returns>
    /// <exception cref="SocketValidationException">The message is not valid.</exception>
    public static ValueTask EmitToUserAsync<TMessage>(this ISocketEmitter emitter, string userId, TMessage message, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
        where TMessage : ISocketMessage<TMessage>
    {
        ArgumentNullException.ThrowIfNull(emitter);
        return emitter.SendToUserAsync(userId, CreatePush(message, emitter.TimeProvider), exceptSocketIds, cancellationToken);
    }

    /// <summary>Validates a typed message and sends it to every socket in the push envelope.</summary>
    /// <typeparam name="TMessage">The message type.</typeparam>
    /// <param name="emitter">The emitter.</param>
    /// <param name="message">The message.</param>
    /// <param name="exceptSocketIds">Sockets that do not get it, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the frame is queued and handed to the provider.</returns>
    /// <exception cref="SocketValidationException">The message is not valid.</exception>
    public static ValueTask EmitToAllAsync<TMessage>(this ISocketEmitter emitter, TMessage message, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
        where TMessage : ISocketMessage<TMessage>
    {
        ArgumentNullException.ThrowIfNull(emitter);
        return emitter.BroadcastAsync(CreatePush(message, emitter.TimeProvider), exceptSocketIds, cancellationToken);
    }

    /// <summary>Validates a typed message and encodes it once in the push envelope.</summary>
    /// <typeparam name="TMessage">The message type.</typeparam>
    /// <param name="message">The message.</param>
    /// <param name="time">The clock for the push's <c>timestamp</c>; the system clock when <see langword="null"/>.</param>
    /// <returns>The frame, ready for any number of sockets.</returns>
    /// <exception cref="SocketValidationException">The message is not valid.</exception>
    public static SocketFrame CreatePush<TMessage>(TMessage message, TimeProvider? time = null) where TMessage : ISocketMessage<TMessage>
    {
        ArgumentNullException.ThrowIfNull(message);
        var serializer = TMessage.Serializer;
        var validation = new SocketValidationContext("$.data");
        serializer.Validate(message, validation);
        if (validation.HasErrors)
        {
            throw new SocketValidationException(TMessage.MessageName, [.. validation.Errors]);
        }

        return EnvelopeFrames.Push(TMessage.MessageName, (message, serializer), static (writer, state) => state.serializer.Write(writer, state.message), (time ?? TimeProvider.System).GetUtcNow().ToUnixTimeMilliseconds());
    }
}
