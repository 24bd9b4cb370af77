using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Ori.Sockets.PubSub;
using Ori.Sockets.Telemetry;
using StackExchange.Redis;

namespace Ori.Sockets.Redis;

/// <summary>
/// The scaling provider: the local <see cref="SocketHub"/> plus Redis pub/sub. Local sockets get
/// their copy straight from the hub; other instances get the message through Redis and ignore their
/// own. An instance holds one Redis subscription per topic with local subscribers, taken when the
/// first subscribes and dropped when the last leaves; direct sends, broadcasts and disconnects
/// travel on one control channel.
/// </summary>
internal sealed class RedisSocketProvider : ISocketProvider, IRecoveringProvider, Ori.Sockets.Hosting.IProviderHealth, IAsyncDisposable
{
    private const int GateCount = 64;
    private readonly SocketHub _hub;
    private readonly RedisBus _bus;
    private readonly ILogger _logger;
    private readonly TimeSpan _retryInterval;
    private readonly ConcurrentDictionary<string, Task<ChannelMessageQueue>> _registered = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _retry = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim[] _gates = [.. Enumerable.Range(0, GateCount).Select(_ => new SemaphoreSlim(1, 1))];
    private readonly Action<ChannelMessage> _onTopic;
    private readonly Action<ChannelMessage> _onControl;
    private readonly TimeSpan _operationTimeout;
    private Task<ChannelMessageQueue>? _control;
    private ITimer? _retryTimer;
    private ITimer? _livenessTimer;
    private readonly RedisPresence _presence;
    private readonly TimeSpan _livenessInterval;
    private int _checking;
    private volatile bool _deaf;
    private volatile bool _stopping;

    private readonly RedisHistories? _histories;

    public RedisSocketProvider(SocketHub hub, IOptions<OriSocketsRedisOptions> options, ILoggerFactory loggerFactory, RedisCounters counters, TimeProvider time, RedisMultiplexerSource? source = null, TopicHistories? histories = null)
    {
        _hub = hub;
        TimeProvider = time;
        _logger = loggerFactory.CreateLogger("Ori.Sockets.Redis");
        _bus = new RedisBus(options.Value, source?.Multiplexer, _logger, counters, time);
        _histories = histories is { Any: true } ? new RedisHistories(_bus, histories) : null;
        _retryInterval = options.Value.RetryInterval;
        _operationTimeout = options.Value.OperationTimeout;
        _livenessInterval = options.Value.LivenessInterval;
        _presence = new RedisPresence(_bus, hub, options.Value.PresenceHeartbeat, options.Value.Presence, time, _logger);
        _onTopic = OnTopicMessage;
        _onControl = OnControlMessage;
    }

    internal RedisBus Bus => _bus;

    /// <inheritdoc />
    public TimeProvider TimeProvider { get; }

    /// <summary>Topics this instance holds a Redis subscription for.</summary>
    internal ICollection<string> RedisTopics => _registered.Keys;

    /// <inheritdoc />
    public int ConnectionCount => _hub.ConnectionCount;

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _bus.StartAsync().ConfigureAwait(false);

        // While Redis is unreachable the start does not wait: the subscription is made when it connects (or retried).
        SubscribeControl();
        if (_bus.IsConnected && _control is { } control)
        {
            try
            {
                await control.WaitAsync(_operationTimeout, TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                // Retried by the timer when it failed; made by the multiplexer when it is only slow.
            }
        }

        _retryTimer = TimeProvider.CreateTimer(static state => ((RedisSocketProvider)state!).RetryFailed(), this, _retryInterval, _retryInterval);
        _presence.Start();
        if (_livenessInterval > TimeSpan.Zero)
        {
            _livenessTimer = TimeProvider.CreateTimer(static state => _ = ((RedisSocketProvider)state!).CheckLivenessAsync(), this, _livenessInterval, _livenessInterval);
        }
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        if (_retryTimer is not null)
        {
            await _retryTimer.DisposeAsync().ConfigureAwait(false);
        }

        if (_livenessTimer is not null)
        {
            await _livenessTimer.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var topic in _registered.Keys)
        {
            await ReconcileAsync(topic).ConfigureAwait(false);
        }

        await _presence.DisposeAsync().ConfigureAwait(false);

        // The connection closes next: its subscriptions go with it.
        if (Interlocked.Exchange(ref _control, null) is { } control)
        {
            await _bus.UnsubscribeAsync(control).ConfigureAwait(false);
        }

        await _bus.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask PublishAsync(string topic, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
    {
        SocketHub.ThrowIfInvalidTopic(topic);
        ArgumentNullException.ThrowIfNull(frame);
        await _hub.WaitForBudgetAsync(cancellationToken).ConfigureAwait(false);
        if (_histories?.Find(topic) is { } policy)
        {
            // Delivered here from the topic's channel, in offset order with every other instance's pushes.
            await _histories.PublishAsync(policy, topic, JoinExcept(exceptSocketIds), frame, cancellationToken).ConfigureAwait(false);
            return;
        }

        _hub.DeliverToTopic(topic, frame, exceptSocketIds);
        using var activity = SocketTracing.StartPublish("topic", topic);
        var deadline = _bus.Deadline();
        var message = RedisEnvelope.Encode(RedisMessageKind.Topic, _bus.Origin, topic, JoinExcept(exceptSocketIds), frame.Payload.Span, deadline, SocketTracing.CurrentTraceparent());
        await _bus.PublishAsync(_bus.TopicChannel(topic), message, deadline, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask SendAsync(string socketId, SocketFrame frame, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(socketId);
        ArgumentNullException.ThrowIfNull(frame);
        if (_hub.DeliverToSocket(socketId, frame))
        {
            return;
        }

        using var activity = SocketTracing.StartPublish("send", socketId);
        var deadline = _bus.Deadline();
        var message = RedisEnvelope.Encode(RedisMessageKind.Send, _bus.Origin, socketId, null, frame.Payload.Span, deadline, SocketTracing.CurrentTraceparent());
        await _bus.PublishAsync(_bus.ControlChannel, message, deadline, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask BroadcastAsync(SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(frame);
        await _hub.WaitForBudgetAsync(cancellationToken).ConfigureAwait(false);
        _hub.DeliverToAll(frame, exceptSocketIds);
        using var activity = SocketTracing.StartPublish("broadcast", null);
        var deadline = _bus.Deadline();
        var message = RedisEnvelope.Encode(RedisMessageKind.Broadcast, _bus.Origin, null, JoinExcept(exceptSocketIds), frame.Payload.Span, deadline, SocketTracing.CurrentTraceparent());
        await _bus.PublishAsync(_bus.ControlChannel, message, deadline, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisconnectAsync(string socketId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(socketId);
        if (_hub.Disconnect(socketId))
        {
            return;
        }

        var deadline = _bus.Deadline();
        var message = RedisEnvelope.Encode(RedisMessageKind.Disconnect, _bus.Origin, socketId, null, [], deadline);
        await _bus.PublishAsync(_bus.ControlChannel, message, deadline, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask SendToUserAsync(string userId, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
    {
        SocketHub.ThrowIfInvalidUserId(userId);
        ArgumentNullException.ThrowIfNull(frame);
        await _hub.WaitForBudgetAsync(cancellationToken).ConfigureAwait(false);
        _hub.DeliverToUser(userId, frame, exceptSocketIds);
        using var activity = SocketTracing.StartPublish("user", userId);
        var deadline = _bus.Deadline();
        var message = RedisEnvelope.Encode(RedisMessageKind.User, _bus.Origin, userId, JoinExcept(exceptSocketIds), frame.Payload.Span, deadline, SocketTracing.CurrentTraceparent());
        await _bus.PublishAsync(_bus.ControlChannel, message, deadline, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisconnectUserAsync(string userId, string reason, CancellationToken cancellationToken = default)
    {
        SocketHub.ThrowIfInvalidUserId(userId);
        reason ??= string.Empty;
        _hub.DisconnectUser(userId, reason);
        var deadline = _bus.Deadline();
        var message = RedisEnvelope.Encode(RedisMessageKind.DisconnectUser, _bus.Origin, userId, null, System.Text.Encoding.UTF8.GetBytes(reason), deadline);
        await _bus.PublishAsync(_bus.ControlChannel, message, deadline, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The sockets to leave out, as the envelope carries them (socket ids never contain a comma).</summary>
    internal static string? JoinExcept(IReadOnlyCollection<string>? exceptSocketIds) =>
        exceptSocketIds is { Count: > 0 } ? string.Join(',', exceptSocketIds) : null;

    /// <inheritdoc />
    public async ValueTask SubscribeAsync(string socketId, string topic, CancellationToken cancellationToken = default)
    {
        var change = _hub.Subscribe(socketId, topic);
        if (change == SubscriptionChange.LimitReached)
        {
            throw new SocketLimitExceededException($"This socket is in {_hub.MaxTopicsPerSocket} rooms, the most it may be in; leave one first.");
        }

        if (change == SubscriptionChange.TopicActivated)
        {
            await ReconcileAsync(topic).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Subscribes a local socket, recovering from a position on a recoverable topic (the history is shared by every
    /// instance): the reply is queued first, then what the socket missed, then anything newer.
    /// </summary>
    public async ValueTask<SocketSubscription> SubscribeAsync(string socketId, string topic, SocketPosition? recover, Action<SocketSubscription>? beforeReplay, CancellationToken cancellationToken = default)
    {
        SocketHub.ThrowIfInvalidTopic(topic);
        if (_histories?.Find(topic) is not { } policy)
        {
            await SubscribeAsync(socketId, topic, cancellationToken).ConfigureAwait(false);
            var plain = new SocketSubscription(false, null);
            beforeReplay?.Invoke(plain);
            return plain;
        }

        try
        {
            return await _histories.SubscribeAsync(_hub, policy, socketId, topic, recover, beforeReplay, EnsureSubscribedAsync, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (_hub.GetSubscriberCount(topic) == 0)
            {
                // A join that failed leaves no subscription behind.
                await ReconcileAsync(topic).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Makes this instance's subscription of a topic's channel; throws unless Redis has confirmed it.</summary>
    private async ValueTask EnsureSubscribedAsync(string topic)
    {
        await ReconcileAsync(topic).ConfigureAwait(false);
        if (!_registered.TryGetValue(topic, out var subscription) || !subscription.IsCompletedSuccessfully)
        {
            throw new OriSocketsRedisException($"Redis did not confirm the subscription of '{topic}' in time.", mayHaveReachedOtherInstances: false);
        }
    }

    /// <inheritdoc />
    public async ValueTask UnsubscribeAsync(string socketId, string topic, CancellationToken cancellationToken = default)
    {
        if (_hub.Unsubscribe(socketId, topic) == SubscriptionChange.TopicVacated)
        {
            await ReconcileAsync(topic).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask ReleaseAsync(string socketId)
    {
        foreach (var topic in _hub.RemoveSubscriptions(socketId))
        {
            await ReconcileAsync(topic).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask<SocketPresence> GetPresenceAsync(string topic, CancellationToken cancellationToken = default)
    {
        SocketHub.ThrowIfInvalidTopic(topic);
        if (!_presence.IsTracking)
        {
            throw new NotSupportedException("Presence is off: set OriSocketsRedisOptions.Presence to answer it across instances.");
        }

        try
        {
            return await _presence.GetAsync(topic).AsTask().WaitAsync(_operationTimeout, TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            throw new OriSocketsRedisException("Presence could not be read from Redis.", ex, mayHaveReachedOtherInstances: false);
        }
    }

    /// <inheritdoc />
    public async ValueTask<SocketConnectionCounts> GetConnectionCountsAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _presence.CountsAsync().WaitAsync(_operationTimeout, TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            throw new OriSocketsRedisException("Connection counts could not be read from Redis.", ex, mayHaveReachedOtherInstances: false);
        }
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SocketPresenceMember>> GetUserSocketsAsync(string userId, CancellationToken cancellationToken = default)
    {
        SocketHub.ThrowIfInvalidUserId(userId);
        if (!_presence.IsTracking)
        {
            throw new NotSupportedException("Presence is off: set OriSocketsRedisOptions.Presence to answer the sockets of a user across instances.");
        }

        try
        {
            return await _presence.UserSocketsAsync(userId).WaitAsync(_operationTimeout, TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            throw new OriSocketsRedisException("The sockets of the user could not be read from Redis.", ex, mayHaveReachedOtherInstances: false);
        }
    }

    /// <summary>
    /// Unhealthy while Redis is unreachable (this instance's sockets work; other instances are not reached); degraded
    /// while the control channel's subscription is not confirmed, or the last liveness check found the subscription
    /// connection deaf (being repaired); healthy otherwise.
    /// </summary>
    public Task<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult> CheckHealthAsync(CancellationToken cancellationToken)
    {
        var data = new Dictionary<string, object>
        {
            ["pubsub"] = _bus.Sharded ? "sharded" : "classic",
            ["channel_prefix"] = _bus.Prefix.TrimEnd(':'),
            ["topics_subscribed"] = _registered.Count,
        };
        if (!_bus.IsConnected)
        {
            return Task.FromResult(Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Unhealthy("Redis is unreachable: other instances are not reached until it is back.", data: data));
        }

        if (Volatile.Read(ref _control) is not { IsCompletedSuccessfully: true } || _deaf)
        {
            return Task.FromResult(Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Degraded("Connected to Redis, but its subscriptions are not confirmed (being made again).", data: data));
        }

        return Task.FromResult(Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy("Connected to Redis; subscriptions confirmed.", data));
    }

    /// <inheritdoc />
    public bool IsConnected(string socketId) => _hub.Contains(socketId);

    /// <inheritdoc />
    public int GetSubscriberCount(string topic) => _hub.GetSubscriberCount(topic);

    public async ValueTask DisposeAsync()
    {
        if (!_stopping)
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        foreach (var gate in _gates)
        {
            gate.Dispose();
        }
    }

    /// <summary>
    /// Makes the Redis subscription of a topic match its local subscribers. Changes of one topic are
    /// serialized and loop until they agree, so fast subscribe/unsubscribe races from different sockets
    /// end with exactly one subscription when (and only when) the topic has local subscribers. Every wait is
    /// bounded by the operation time-out: a topic that could not be settled in time is settled by the retry timer.
    /// </summary>
    private async ValueTask ReconcileAsync(string topic)
    {
        var gate = _gates[(StringComparer.Ordinal.GetHashCode(topic) & int.MaxValue) % GateCount];
        if (!await gate.WaitAsync(_operationTimeout, CancellationToken.None).ConfigureAwait(false))
        {
            _retry[topic] = 0;
            return;
        }

        try
        {
            while (true)
            {
                var wanted = !_stopping && (_hub.GetSubscriberCount(topic) > 0 || _histories?.IsJoining(topic) == true);
                var held = _registered.ContainsKey(topic);
                if (wanted == held)
                {
                    _retry.TryRemove(topic, out _);
                    if (!held)
                    {
                        _histories?.Forget(topic);
                    }

                    return;
                }

                if (!wanted)
                {
                    var stale = _registered[topic];
                    if (!stale.IsCompleted)
                    {
                        // One subscription of a channel in flight at a time: one that is still being made is let finish
                        // (a failed one removes every registration of its channel). Not waited for while Redis is down.
                        if (_bus.IsConnected)
                        {
                            await ((Task)stale).WaitAsync(_operationTimeout, TimeProvider).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                        }

                        if (!stale.IsCompleted)
                        {
                            _retry[topic] = 0;
                            return;
                        }
                    }

                    if (_registered.TryRemove(new KeyValuePair<string, Task<ChannelMessageQueue>>(topic, stale)))
                    {
                        await _bus.UnsubscribeAsync(stale).ConfigureAwait(false);
                    }

                    continue;
                }

                Task<ChannelMessageQueue> subscription;
                try
                {
                    subscription = _bus.SubscribeAsync(_bus.TopicChannel(topic), _onTopic);
                }
                catch (InvalidOperationException ex)
                {
                    RedisLog.SubscriptionFailed(_logger, topic, ex);
                    _retry[topic] = 0;
                    return;
                }

                _registered[topic] = subscription;
                _ = subscription.ContinueWith(static (t, state) => ((RedisSocketProvider)state!).OnSubscriptionFailed(t), this, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                if (!_bus.IsConnected)
                {
                    // Redis is down: this instance's sockets work meanwhile; the subscription is made when it is back.
                    return;
                }

                try
                {
                    // Confirmed by Redis before the caller goes on: what is published after SubscribeAsync returns is received.
                    await subscription.WaitAsync(_operationTimeout, TimeProvider).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    // Still held: a slow subscription completes on its own; a failed one is retried (OnSubscriptionFailed).
                    return;
                }
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>A subscription failed (and removed itself from the multiplexer): forgotten here, and retried by the timer.</summary>
    private void OnSubscriptionFailed(Task<ChannelMessageQueue> subscription)
    {
        foreach (var (topic, held) in _registered)
        {
            if (held == subscription && _registered.TryRemove(new KeyValuePair<string, Task<ChannelMessageQueue>>(topic, held)))
            {
                RedisLog.SubscriptionFailed(_logger, topic, subscription.Exception!.GetBaseException());
                _retry[topic] = 0;
                return;
            }
        }

        if (subscription == Volatile.Read(ref _control))
        {
            Interlocked.CompareExchange(ref _control, null, subscription);
            RedisLog.SubscriptionFailed(_logger, "#control", subscription.Exception!.GetBaseException());
        }
    }

    /// <summary>Subscribes the control channel unless it is held; a failure is retried by the timer.</summary>
    private void SubscribeControl()
    {
        if (_stopping || Volatile.Read(ref _control) is not null)
        {
            return;
        }

        Task<ChannelMessageQueue> control;
        try
        {
            control = _bus.SubscribeAsync(_bus.ControlChannel, _onControl);
        }
        catch (InvalidOperationException ex)
        {
            RedisLog.SubscriptionFailed(_logger, "#control", ex);
            return;
        }

        if (Interlocked.CompareExchange(ref _control, control, null) is not null)
        {
            _ = _bus.UnsubscribeAsync(control).AsTask();
            return;
        }

        _ = control.ContinueWith(static (t, state) => ((RedisSocketProvider)state!).OnSubscriptionFailed(t), this, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        // Counted with this instance, here and (from its probe) on the others: the gate after a reconnect waits for as many listeners.
        _ = control.ContinueWith(static (_, bus) => ((RedisBus)bus!).AnnounceAsync(), _bus, CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
    }

    /// <summary>
    /// The liveness check: a probe on the control channel must come back through this instance's subscription. Twice
    /// deaf while connected: the subscription connection is closed at Redis and made again (every subscription with it).
    /// </summary>
    private async Task CheckLivenessAsync()
    {
        if (_stopping || Volatile.Read(ref _control) is not { IsCompletedSuccessfully: true } || Interlocked.Exchange(ref _checking, 1) == 1)
        {
            return;
        }

        try
        {
            for (var attempt = 0; attempt < 2; attempt++)
            {
                if (await _bus.ProbeAsync().ConfigureAwait(false) != false)
                {
                    _deaf = false;

                    // Instances come and go: the gate after the next reconnect waits for those listening now.
                    await _bus.CountListenersAsync().ConfigureAwait(false);
                    return;
                }
            }

            _deaf = true;

            var closed = await _bus.CloseSubscriptionConnectionsAsync().ConfigureAwait(false);
            RedisLog.SubscriptionDeaf(_logger, closed);
        }
        catch (RedisCommandException ex)
        {
            RedisLog.SubscriptionDeafUnrepaired(_logger, "the multiplexer given to AddRedis may not run admin commands (allowAdmin=true)", ex);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            RedisLog.SubscriptionDeafUnrepaired(_logger, "Redis did not answer", ex);
        }
        finally
        {
            Volatile.Write(ref _checking, 0);
        }
    }

    private void RetryFailed()
    {
        SubscribeControl();
        foreach (var topic in _retry.Keys)
        {
            _ = ReconcileAsync(topic).AsTask();
        }
    }

    private void OnTopicMessage(ChannelMessage message)
    {
        var value = message.Message;
        var name = (string?)message.Channel ?? string.Empty;
        if (!name.StartsWith(_bus.Prefix, StringComparison.Ordinal))
        {
            Drop(_bus.Counters.Foreign, name, "the channel is outside this application's prefix");
            return;
        }

        if (!TryReadForeign(value, name, out var kind, out var target, out var except, out var payload, out var trace))
        {
            return;
        }

        if (kind is not (RedisMessageKind.Topic or RedisMessageKind.Positioned) || !name.AsSpan(_bus.Prefix.Length).SequenceEqual(target))
        {
            Drop(_bus.Counters.Mismatched, name, "its topic does not match its channel");
            return;
        }

        var activity = SocketTracing.StartDeliver(trace, "topic", target, out var previous);
        try
        {
            if (kind == RedisMessageKind.Positioned)
            {
                if (_histories is null || !_histories.Deliver(_hub, target, payload.Span, except?.Split(',')))
                {
                    Drop(_bus.Counters.Malformed, name, _histories is null ? "a push with a position on a topic this instance keeps no history of" : "its position is not valid");
                    return;
                }

                _bus.Counters.Received();
                return;
            }

            _hub.DeliverToTopic(target, SocketFrame.Text(payload.Span), except?.Split(','));
            _bus.Counters.Received();
        }
        finally
        {
            SocketTracing.StopDeliver(activity, previous);
        }
    }

    private void OnControlMessage(ChannelMessage message)
    {
        var value = message.Message;
        var name = (string?)message.Channel ?? string.Empty;
        if (!TryReadForeign(value, name, out var kind, out var target, out var except, out var payload, out var trace))
        {
            return;
        }

        var activity = SocketTracing.StartDeliver(trace, KindName(kind), target, out var previous);
        try
        {
            DeliverControl(name, kind, target, except, payload);
        }
        finally
        {
            SocketTracing.StopDeliver(activity, previous);
        }
    }

    private static string KindName(RedisMessageKind kind) => kind switch
    {
        RedisMessageKind.Send => "send",
        RedisMessageKind.Broadcast => "broadcast",
        RedisMessageKind.User => "user",
        RedisMessageKind.Disconnect => "disconnect",
        RedisMessageKind.DisconnectUser => "disconnect_user",
        _ => "topic",
    };

    private void DeliverControl(string name, RedisMessageKind kind, string target, string? except, ReadOnlyMemory<byte> payload)
    {
        switch (kind)
        {
            case RedisMessageKind.Send:
                _hub.DeliverToSocket(target, SocketFrame.Text(payload.Span));
                break;
            case RedisMessageKind.Broadcast:
                _hub.DeliverToAll(SocketFrame.Text(payload.Span), except?.Split(','));
                break;
            case RedisMessageKind.Disconnect:
                _hub.Disconnect(target);
                break;
            case RedisMessageKind.User:
                _hub.DeliverToUser(target, SocketFrame.Text(payload.Span), except?.Split(','));
                break;
            case RedisMessageKind.DisconnectUser:
                _hub.DisconnectUser(target, System.Text.Encoding.UTF8.GetString(payload.Span));
                break;
            default:
                Drop(_bus.Counters.Mismatched, name, "a topic message on the control channel");
                return;
        }

        _bus.Counters.Received();
    }

    /// <summary>
    /// Reads a message that another process sent: malformed ones are dropped and counted, probes are
    /// handed to the bus, this instance's own messages are skipped (it delivered them locally).
    /// </summary>
    private bool TryReadForeign(RedisValue value, string channel, out RedisMessageKind kind, out string target, out string? except, out ReadOnlyMemory<byte> payload, out string? trace)
    {
        byte[]? bytes = value;
        if (bytes is null || !RedisEnvelope.TryDecode(bytes, out kind, out var origin, out target, out except, out payload, out var deadline, out trace))
        {
            kind = default;
            target = string.Empty;
            except = null;
            trace = null;
            payload = default;
            Drop(_bus.Counters.Malformed, channel, "it is not a valid Ori.Sockets message");
            return false;
        }

        if (kind == RedisMessageKind.Probe)
        {
            // A liveness probe: this instance's own comes back to it; another's is nothing to deliver.
            _bus.ProbeReturned(origin, target);
            return false;
        }

        if (kind == RedisMessageKind.Positioned)
        {
            // Published by the history script, which checked its deadline: every instance delivers it, its sender's too.
            _bus.RecordLag(deadline);
            return true;
        }

        if (origin == _bus.Origin)
        {
            _bus.Counters.OwnSkipped();
            return false;
        }

        if (_bus.IsExpired(deadline))
        {
            // Its sender stopped waiting and told its caller the publish failed: delivering it now would make that false.
            Drop(_bus.Counters.Expired, channel, "it arrived after its deadline (its publisher was told it failed)");
            return false;
        }

        _bus.RecordLag(deadline);
        return true;
    }

    private void Drop(Func<long> count, string channel, string reason)
    {
        // Logged at the 1st, 2nd, 4th, 8th… drop of a kind: visible, but a flood cannot flood the log.
        var n = count();
        if ((n & (n - 1)) == 0)
        {
            RedisLog.Dropped(_logger, channel, $"{reason} ({n} so far)");
        }
    }
}

/// <summary>An application's own multiplexer, given to <c>AddRedis</c>.</summary>
/// <param name="Multiplexer">The multiplexer; the application owns and disposes it.</param>
internal sealed record RedisMultiplexerSource(IConnectionMultiplexer Multiplexer);
