namespace Ori.Sockets.PubSub;

/// <summary>The default provider: one server instance, delivery through the <see cref="SocketHub"/> only.</summary>
internal sealed class InProcessSocketProvider(SocketHub hub, TimeProvider time, TopicHistories? histories = null) : ISocketProvider, IRecoveringProvider
{
    public TimeProvider TimeProvider => time;

    public int ConnectionCount => hub.ConnectionCount;

    public ValueTask PublishAsync(string topic, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
    {
        SocketHub.ThrowIfInvalidTopic(topic);
        var budget = hub.WaitForBudgetAsync(cancellationToken);
        if (!budget.IsCompletedSuccessfully)
        {
            return AfterBudgetAsync(budget, (Provider: this, topic, frame, exceptSocketIds), static s => s.Provider.Publish(s.topic, s.frame, s.exceptSocketIds));
        }

        Publish(topic, frame, exceptSocketIds);
        return default;
    }

    /// <summary>
    /// Delivers once the outbound budget has room (a burst ran ahead of the sockets). The fast paths pass a static
    /// lambda and a tuple, so they allocate nothing (a lambda capturing a parameter would allocate at method entry).
    /// </summary>
    private static async ValueTask AfterBudgetAsync<TState>(ValueTask budget, TState state, Action<TState> deliver)
    {
        await budget.ConfigureAwait(false);
        deliver(state);
    }

    private void Publish(string topic, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds)
    {
        if (histories is { Any: true } && histories.TryGet(topic, out var history))
        {
            // The offset is taken and the push delivered under the history's lock: a recovering join sees either
            // all of it (in its replay) or none of it (delivered after the replay).
            lock (history.Lock)
            {
                hub.DeliverToTopic(topic, history.Append(frame), exceptSocketIds);
            }

            return;
        }

        hub.DeliverToTopic(topic, frame, exceptSocketIds);
    }

    public ValueTask<SocketSubscription> SubscribeAsync(string socketId, string topic, SocketPosition? recover, Action<SocketSubscription>? beforeReplay, CancellationToken cancellationToken = default)
    {
        SocketHub.ThrowIfInvalidTopic(topic);
        if (histories is null || !histories.TryGet(topic, out var history))
        {
            Subscribe(socketId, topic);
            var plain = new SocketSubscription(false, null);
            beforeReplay?.Invoke(plain);
            return new(plain);
        }

        lock (history.Lock)
        {
            Subscribe(socketId, topic);
            var missed = recover is { } from ? history.After(from.Epoch, from.Offset) : null;
            var result = new SocketSubscription(missed is not null, new SocketPosition(history.Epoch, history.Latest));
            beforeReplay?.Invoke(result);
            foreach (var frame in missed ?? [])
            {
                hub.DeliverToSocket(socketId, frame);
            }

            return new(result);
        }
    }

    private void Subscribe(string socketId, string topic)
    {
        if (hub.Subscribe(socketId, topic) == SubscriptionChange.LimitReached)
        {
            throw SocketLimitExceededException.Rooms(hub.MaxTopicsPerSocket);
        }
    }

    public ValueTask SendAsync(string socketId, SocketFrame frame, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(socketId);
        hub.DeliverToSocket(socketId, frame);
        return default;
    }

    public ValueTask BroadcastAsync(SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
    {
        var budget = hub.WaitForBudgetAsync(cancellationToken);
        if (!budget.IsCompletedSuccessfully)
        {
            return AfterBudgetAsync(budget, (hub, frame, exceptSocketIds), static s => s.hub.DeliverToAll(s.frame, s.exceptSocketIds));
        }

        hub.DeliverToAll(frame, exceptSocketIds);
        return default;
    }

    public ValueTask SendToUserAsync(string userId, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
    {
        SocketHub.ThrowIfInvalidUserId(userId);
        var budget = hub.WaitForBudgetAsync(cancellationToken);
        if (!budget.IsCompletedSuccessfully)
        {
            return AfterBudgetAsync(budget, (hub, userId, frame, exceptSocketIds), static s => s.hub.DeliverToUser(s.userId, s.frame, s.exceptSocketIds));
        }

        hub.DeliverToUser(userId, frame, exceptSocketIds);
        return default;
    }

    public ValueTask DisconnectUserAsync(string userId, string reason, CancellationToken cancellationToken = default)
    {
        SocketHub.ThrowIfInvalidUserId(userId);
        hub.DisconnectUser(userId, reason ?? string.Empty);
        return default;
    }

    public ValueTask SubscribeAsync(string socketId, string topic, CancellationToken cancellationToken = default)
    {
        Subscribe(socketId, topic);
        return default;
    }

    public ValueTask UnsubscribeAsync(string socketId, string topic, CancellationToken cancellationToken = default)
    {
        hub.Unsubscribe(socketId, topic);
        return default;
    }

    public ValueTask ReleaseAsync(string socketId)
    {
        hub.RemoveSubscriptions(socketId);
        return default;
    }

    public ValueTask DisconnectAsync(string socketId, CancellationToken cancellationToken = default)
    {
        hub.Disconnect(socketId);
        return default;
    }

    public ValueTask<SocketPresence> GetPresenceAsync(string topic, CancellationToken cancellationToken = default)
    {
        SocketHub.ThrowIfInvalidTopic(topic);
        return new(new SocketPresence(topic, hub.GetMembers(topic)));
    }

    public ValueTask<SocketConnectionCounts> GetConnectionCountsAsync(CancellationToken cancellationToken = default) =>
        new(new SocketConnectionCounts(new Dictionary<string, int>(StringComparer.Ordinal) { ["local"] = hub.ConnectionCount }));

    public ValueTask<IReadOnlyList<SocketPresenceMember>> GetUserSocketsAsync(string userId, CancellationToken cancellationToken = default)
    {
        SocketHub.ThrowIfInvalidUserId(userId);
        return new(hub.GetUserSocketMembers(userId));
    }

    public bool IsConnected(string socketId) => hub.Contains(socketId);

    public int GetSubscriberCount(string topic) => hub.GetSubscriberCount(topic);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// A provider that keeps histories of recoverable topics: a subscription may ask to recover from a position, and the
/// caller's <c>beforeReplay</c> (the join's reply) is queued before the missed pushes, which come before any newer one.
/// </summary>
internal interface IRecoveringProvider
{
    ValueTask<SocketSubscription> SubscribeAsync(string socketId, string topic, SocketPosition? recover, Action<SocketSubscription>? beforeReplay, CancellationToken cancellationToken = default);
}
