namespace Ori.Sockets.PubSub;

/// <summary>
/// The time limit on what a message waits for from the provider (option <c>DependencyTimeout</c>): subscribes and
/// unsubscribes of a connection, and publishes, sends and broadcasts (it is the <see cref="ISocketEmitter"/>
/// applications are given). An operation that completes at
/// once costs nothing; one that overruns is answered <see cref="SocketUnavailableException"/>, and a subscription that
/// overran is undone, so that the socket is where the client was told it is.
/// </summary>
/// <param name="provider">The provider.</param>
/// <param name="timeout">The limit.</param>
internal sealed class DependencyBound(ISocketProvider provider, TimeSpan timeout) : ISocketEmitter, ISocketPresence
{
    /// <inheritdoc />
    public TimeProvider TimeProvider => provider.TimeProvider;

    /// <inheritdoc />
    public ValueTask PublishAsync(string topic, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default) =>
        Bound(provider.PublishAsync(topic, frame, exceptSocketIds, cancellationToken), "The publish", cancellationToken);

    /// <inheritdoc />
    public ValueTask SendAsync(string socketId, SocketFrame frame, CancellationToken cancellationToken = default) =>
        Bound(provider.SendAsync(socketId, frame, cancellationToken), "The send", cancellationToken);

    /// <inheritdoc />
    public ValueTask BroadcastAsync(SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default) =>
        Bound(provider.BroadcastAsync(frame, exceptSocketIds, cancellationToken), "The broadcast", cancellationToken);

    /// <inheritdoc />
    public ValueTask SendToUserAsync(string userId, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default) =>
        Bound(provider.SendToUserAsync(userId, frame, exceptSocketIds, cancellationToken), "The send to the user", cancellationToken);

    /// <inheritdoc />
    public ValueTask DisconnectUserAsync(string userId, string reason, CancellationToken cancellationToken = default) =>
        Bound(provider.DisconnectUserAsync(userId, reason, cancellationToken), "Disconnecting the user", cancellationToken);

    /// <inheritdoc />
    public ValueTask<SocketPresence> GetPresenceAsync(string topic, CancellationToken cancellationToken = default) =>
        Read(provider.GetPresenceAsync(topic, cancellationToken), $"The presence of '{topic}'", cancellationToken);

    /// <inheritdoc />
    public ValueTask<SocketConnectionCounts> GetConnectionCountsAsync(CancellationToken cancellationToken = default) =>
        Read(provider.GetConnectionCountsAsync(cancellationToken), "The connection counts", cancellationToken);

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<SocketPresenceMember>> GetUserSocketsAsync(string userId, CancellationToken cancellationToken = default) =>
        Read(provider.GetUserSocketsAsync(userId, cancellationToken), "The sockets of the user", cancellationToken);

    /// <summary>Subscribes a socket; undone when the provider overruns the limit.</summary>
    public ValueTask SubscribeAsync(string socketId, string topic, CancellationToken cancellationToken)
    {
        var pending = provider.SubscribeAsync(socketId, topic, cancellationToken);
        return pending.IsCompleted ? pending : AwaitSubscribeAsync(pending, socketId, topic, cancellationToken);
    }

    /// <summary>Subscribes a socket, recovering from a position where the provider keeps histories.</summary>
    public async ValueTask<SocketSubscription> SubscribeAsync(string socketId, string topic, SocketPosition? recover, Action<SocketSubscription>? beforeReplay, CancellationToken cancellationToken)
    {
        if (provider is IRecoveringProvider recovering)
        {
            // Bounded by cancellation, not by walking away: a provider checks the token under the lock in which it would
            // subscribe the socket and queue the reply, so a join that overran is never half done.
            using var overrun = new CancellationTokenSource(timeout, provider.TimeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, overrun.Token);
            try
            {
                return await recovering.SubscribeAsync(socketId, topic, recover, beforeReplay, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (overrun.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new SocketUnavailableException($"Joining '{topic}' did not complete within {Seconds} s; the socket is not subscribed.", ex);
            }
        }

        await SubscribeAsync(socketId, topic, cancellationToken).ConfigureAwait(false);
        var plain = new SocketSubscription(false, null);
        beforeReplay?.Invoke(plain);
        return plain;
    }

    /// <summary>Unsubscribes a socket.</summary>
    public ValueTask UnsubscribeAsync(string socketId, string topic, CancellationToken cancellationToken) =>
        Bound(provider.UnsubscribeAsync(socketId, topic, cancellationToken), $"Leaving '{topic}'", cancellationToken);

    private ValueTask Bound(ValueTask pending, string what, CancellationToken cancellationToken) =>
        pending.IsCompleted ? pending : AwaitAsync(pending, what, cancellationToken);

    private async ValueTask AwaitAsync(ValueTask pending, string what, CancellationToken cancellationToken)
    {
        var task = pending.AsTask();
        try
        {
            await task.WaitAsync(timeout, provider.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            Observe(task);
            throw new SocketUnavailableException($"{what} did not complete within {Seconds} s; it may still complete.", ex);
        }
    }

    /// <summary>A read from the provider, bounded like every wait; free when it completes at once.</summary>
    private ValueTask<T> Read<T>(ValueTask<T> pending, string what, CancellationToken cancellationToken) =>
        pending.IsCompleted ? pending : AwaitReadAsync(pending, what, cancellationToken);

    private async ValueTask<T> AwaitReadAsync<T>(ValueTask<T> pending, string what, CancellationToken cancellationToken)
    {
        var task = pending.AsTask();
        try
        {
            return await task.WaitAsync(timeout, provider.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            Observe(task);
            throw new SocketUnavailableException($"{what} could not be read within {Seconds} s.", ex);
        }
    }

    private async ValueTask AwaitSubscribeAsync(ValueTask pending, string socketId, string topic, CancellationToken cancellationToken)
    {
        var task = pending.AsTask();
        try
        {
            await task.WaitAsync(timeout, provider.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            // Undone before the client hears of it: a provider changes its local state before it waits, so the
            // socket is not subscribed when the answer goes out, and the provider's late work is released.
            _ = Undo(socketId, topic);
            Observe(task);
            throw new SocketUnavailableException($"Joining '{topic}' did not complete within {Seconds} s; the socket is not subscribed.", ex);
        }
    }

    /// <summary>The overrun operation's own failure, when it comes, is nobody's to handle: it must not go unobserved.</summary>
    private static void Observe(Task task) =>
        task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private async Task Undo(string socketId, string topic)
    {
        try
        {
            await provider.UnsubscribeAsync(socketId, topic, CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The provider retries on its own; the undo must not surface as an unobserved exception.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private string Seconds => timeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
}
