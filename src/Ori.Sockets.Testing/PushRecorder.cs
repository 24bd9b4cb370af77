using System.Collections.Concurrent;
using System.Threading.Channels;
using Ori.Sockets.Client;

namespace Ori.Sockets.Testing;

/// <summary>
/// The pushes of one message type a client receives, kept for assertions: take them in order with
/// <see cref="NextAsync"/>, check that none came with <see cref="ExpectNoneAsync"/>, or read them all from
/// <see cref="Received"/>. Made by <see cref="OriSocketClientTestingExtensions.Record{TMessage}"/>; dispose it to stop.
/// </summary>
/// <typeparam name="TMessage">A <c>[SocketMessage]</c> type.</typeparam>
public sealed class PushRecorder<TMessage> : IDisposable
    where TMessage : ISocketMessage<TMessage>
{
    private static readonly TimeSpan s_defaultTimeout = TimeSpan.FromSeconds(5);
    private readonly Channel<TMessage> _unread = Channel.CreateUnbounded<TMessage>();
    private readonly ConcurrentQueue<TMessage> _received = new();
    private readonly IDisposable _subscription;

    internal PushRecorder(OriSocketClient client)
    {
        _subscription = client.On<TMessage>(message =>
        {
            _received.Enqueue(message);
            _unread.Writer.TryWrite(message);
        });
    }

    /// <summary>Every push recorded so far, in arrival order (those already taken by <see cref="NextAsync"/> too).</summary>
    public IReadOnlyList<TMessage> Received => [.. _received];

    /// <summary>The next push not yet taken, waiting for it when none has come yet.</summary>
    /// <param name="timeout">How long to wait; default 5 s (real time: the push travels through the application).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The push.</returns>
    /// <exception cref="TimeoutException">None came in time.</exception>
    public async Task<TMessage> NextAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var wait = timeout ?? s_defaultTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(wait);
        try
        {
            return await _unread.Reader.ReadAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"No '{TMessage.MessageName}' push arrived within {wait.TotalMilliseconds:0} ms ({_received.Count} recorded before).");
        }
    }

    /// <summary>Waits <paramref name="window"/> and checks that no push was left untaken, nor came meanwhile.</summary>
    /// <param name="window">How long to watch (real time): long enough for a push that would come to arrive.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>Completes after the window when none came.</returns>
    /// <exception cref="InvalidOperationException">A push came (its count is in the message).</exception>
    public async Task ExpectNoneAsync(TimeSpan window, CancellationToken cancellationToken = default)
    {
        await Task.Delay(window, cancellationToken).ConfigureAwait(false);
        var count = 0;
        while (_unread.Reader.TryRead(out _))
        {
            count++;
        }

        if (count > 0)
        {
            throw new InvalidOperationException($"Expected no '{TMessage.MessageName}' push, but {count} arrived.");
        }
    }

    /// <summary>Stops recording.</summary>
    public void Dispose() => _subscription.Dispose();
}

/// <summary>Test helpers on <see cref="OriSocketClient"/>.</summary>
public static class OriSocketClientTestingExtensions
{
    /// <summary>Records the pushes of <typeparamref name="TMessage"/> the client receives from now on.</summary>
    /// <typeparam name="TMessage">A <c>[SocketMessage]</c> type.</typeparam>
    /// <param name="client">The client.</param>
    /// <returns>The recorder; dispose it to stop.</returns>
    public static PushRecorder<TMessage> Record<TMessage>(this OriSocketClient client)
        where TMessage : ISocketMessage<TMessage>
    {
        ArgumentNullException.ThrowIfNull(client);
        return new PushRecorder<TMessage>(client);
    }
}
