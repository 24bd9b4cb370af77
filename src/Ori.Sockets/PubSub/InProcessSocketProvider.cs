namespace Ori.Sockets.PubSub;

/// <summary>The default provider: one server instance, delivery through the <see cref="SocketHub"/> only.</summary>
internal sealed class InProcessSocketProvider(SocketHub hub, TimeProvider time) : ISocketProvider
{
    public TimeProvider TimeProvider => time;

    public int ConnectionCount => hub.ConnectionCount;

    public ValueTask PublishAsync(string topic, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
    {
        SocketHub.ThrowIfInvalidTopic(topic);
        hub.DeliverToTopic(topic, frame, exceptSocketIds);
        return default;
    }

    public ValueTask SendAsync(string socketId, SocketFrame frame, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(socketId);
        hub.DeliverToSocket(socketId, frame);
        return default;
    }

    public ValueTask BroadcastAsync(SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
    {
        hub.DeliverToAll(frame, exceptSocketIds);
        return default;
    }

    public ValueTask SendToUserAsync(string userId, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
    {
        SocketHub.ThrowIfInvalidUserId(userId);
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
        if (hub.Subscribe(socketId, topic) == SubscriptionChange.LimitReached)
        {
            throw SocketLimitExceededException.Rooms(hub.MaxTopicsPerSocket);
        }

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
