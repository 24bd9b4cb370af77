using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Ori.Sockets.Redis;

/// <summary>
/// The scaling provider: the local <see cref="SocketHub"/> plus Redis pub/sub. Local sockets get
/// their copy straight from the hub; other instances get the message through Redis and ignore their
/// own. An instance holds one Redis subscription per topic with local subscribers, taken when the
/// first subscribes and dropped when the last leaves; direct sends, broadcasts and disconnects
/// travel on one control channel.
/// </summary>
internal sealed class RedisSocketProvider : ISocketProvider, IAsyncDisposable
{
    private const int GateCount = 64;
    private readonly SocketHub _hub;
    private readonly RedisBus _bus;
    private readonly ILogger _logger;
    private readonly TimeSpan _retryInterval;
    private readonly ConcurrentDictionary<string, byte> _registered = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _retry = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim[] _gates = [.. Enumerable.Range(0, GateCount).Select(_ => new SemaphoreSlim(1, 1))];
    private readonly Action<RedisChannel, RedisValue> _onTopic;
    private readonly Action<RedisChannel, RedisValue> _onControl;
    private ITimer? _retryTimer;
    private volatile bool _stopping;

    public RedisSocketProvider(SocketHub hub, IOptions<OriSocketsRedisOptions> options, ILoggerFactory loggerFactory, RedisCounters counters, TimeProvider time, RedisMultiplexerSource? source = null)
    {
        _hub = hub;
        TimeProvider = time;
        _logger = loggerFactory.CreateLogger("Ori.Sockets.Redis");
        _bus = new RedisBus(options.Value, source?.Multiplexer, _logger, counters);
        _retryInterval = options.Value.RetryInterval;
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

        // Registered with the multiplexer even while Redis is unreachable: it subscribes on connect.
        await _bus.Subscriber.SubscribeAsync(_bus.ControlChannel, _onControl).ConfigureAwait(false);
        await _bus.ProbeAsync(_bus.ControlChannel).ConfigureAwait(false);
        _retryTimer = TimeProvider.CreateTimer(static state => ((RedisSocketProvider)state!).RetryFailed(), this, _retryInterval, _retryInterval);
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        if (_retryTimer is not null)
        {
            await _retryTimer.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var topic in _registered.Keys)
        {
            await ReconcileAsync(topic).ConfigureAwait(false);
        }

        try
        {
            await _bus.Subscriber.UnsubscribeAsync(_bus.ControlChannel, _onControl).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or OperationCanceledException)
        {
            // The connection closes next: its subscriptions go with it.
        }

        await _bus.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask PublishAsync(string topic, SocketFrame frame, string? exceptSocketId = null, CancellationToken cancellationToken = default)
    {
        SocketHub.ThrowIfInvalidTopic(topic);
        ArgumentNullException.ThrowIfNull(frame);
        _hub.DeliverToTopic(topic, frame, exceptSocketId);
        var message = RedisEnvelope.Encode(RedisMessageKind.Topic, _bus.Origin, topic, exceptSocketId, frame.Payload.Span);
        await _bus.PublishAsync(_bus.TopicChannel(topic), message, cancellationToken).ConfigureAwait(false);
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

        var message = RedisEnvelope.Encode(RedisMessageKind.Send, _bus.Origin, socketId, null, frame.Payload.Span);
        await _bus.PublishAsync(_bus.ControlChannel, message, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask BroadcastAsync(SocketFrame frame, string? exceptSocketId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(frame);
        _hub.DeliverToAll(frame, exceptSocketId);
        var message = RedisEnvelope.Encode(RedisMessageKind.Broadcast, _bus.Origin, null, exceptSocketId, frame.Payload.Span);
        await _bus.PublishAsync(_bus.ControlChannel, message, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisconnectAsync(string socketId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(socketId);
        if (_hub.Disconnect(socketId))
        {
            return;
        }

        var message = RedisEnvelope.Encode(RedisMessageKind.Disconnect, _bus.Origin, socketId, null, []);
        await _bus.PublishAsync(_bus.ControlChannel, message, cancellationToken).ConfigureAwait(false);
    }

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
    /// end with exactly one subscription when (and only when) the topic has local subscribers.
    /// </summary>
    private async ValueTask ReconcileAsync(string topic)
    {
        var gate = _gates[(StringComparer.Ordinal.GetHashCode(topic) & int.MaxValue) % GateCount];
        await gate.WaitAsync().ConfigureAwait(false);
        try
        {
            while (true)
            {
                var wanted = !_stopping && _hub.GetSubscriberCount(topic) > 0;
                var held = _registered.ContainsKey(topic);
                if (wanted == held)
                {
                    _retry.TryRemove(topic, out _);
                    return;
                }

                var channel = _bus.TopicChannel(topic);
                try
                {
                    if (wanted)
                    {
                        // The multiplexer registers the channel before it talks to Redis (and subscribes
                        // again after every reconnect), so it counts as held even if this call fails.
                        _registered[topic] = 0;
                        await _bus.Subscriber.SubscribeAsync(channel, _onTopic).ConfigureAwait(false);

                        // The subscribe call can return before Redis has the subscription: wait until a probe
                        // comes back, so that what is published after SubscribeAsync returns is received.
                        await _bus.ProbeAsync(channel).ConfigureAwait(false);
                    }
                    else
                    {
                        _registered.TryRemove(topic, out _);
                        await _bus.Subscriber.UnsubscribeAsync(channel, _onTopic).ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException or InvalidOperationException)
                {
                    RedisLog.SubscriptionFailed(_logger, topic, ex);
                    _retry[topic] = 0;
                    return;
                }
            }
        }
        finally
        {
            gate.Release();
        }
    }

    private void RetryFailed()
    {
        foreach (var topic in _retry.Keys)
        {
            _ = ReconcileAsync(topic).AsTask();
        }
    }

    private void OnTopicMessage(RedisChannel channel, RedisValue value)
    {
        var name = (string?)channel ?? string.Empty;
        if (!name.StartsWith(_bus.Prefix, StringComparison.Ordinal))
        {
            Drop(_bus.Counters.Foreign, name, "the channel is outside this application's prefix");
            return;
        }

        if (!TryReadForeign(value, name, out var kind, out var target, out var except, out var payload))
        {
            return;
        }

        if (kind != RedisMessageKind.Topic || !name.AsSpan(_bus.Prefix.Length).SequenceEqual(target))
        {
            Drop(_bus.Counters.Mismatched, name, "its topic does not match its channel");
            return;
        }

        _hub.DeliverToTopic(target, SocketFrame.Text(payload.Span), except);
        _bus.Counters.Received();
    }

    private void OnControlMessage(RedisChannel channel, RedisValue value)
    {
        var name = (string?)channel ?? string.Empty;
        if (!TryReadForeign(value, name, out var kind, out var target, out var except, out var payload))
        {
            return;
        }

        switch (kind)
        {
            case RedisMessageKind.Send:
                _hub.DeliverToSocket(target, SocketFrame.Text(payload.Span));
                break;
            case RedisMessageKind.Broadcast:
                _hub.DeliverToAll(SocketFrame.Text(payload.Span), except);
                break;
            case RedisMessageKind.Disconnect:
                _hub.Disconnect(target);
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
    private bool TryReadForeign(RedisValue value, string channel, out RedisMessageKind kind, out string target, out string? except, out ReadOnlyMemory<byte> payload)
    {
        byte[]? bytes = value;
        if (bytes is null || !RedisEnvelope.TryDecode(bytes, out kind, out var origin, out target, out except, out payload))
        {
            kind = default;
            target = string.Empty;
            except = null;
            payload = default;
            Drop(_bus.Counters.Malformed, channel, "it is not a valid Ori.Sockets message");
            return false;
        }

        if (kind == RedisMessageKind.Probe)
        {
            _bus.ProbeReturned(origin, target);
            return false;
        }

        if (origin == _bus.Origin)
        {
            _bus.Counters.OwnSkipped();
            return false;
        }

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
