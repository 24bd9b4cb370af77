using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Ori.Sockets.Redis;

/// <summary>
/// One instance's (or emitter's) use of Redis: its connection, the channel names of its prefix, its
/// origin id, and publishing. Channels are literal: <c>prefix:topic</c> for topics and
/// <c>prefix:#control</c> (never a topic: <c>#</c> is not allowed in topic names) for sends,
/// broadcasts and disconnects.
/// </summary>
internal sealed class RedisBus : IAsyncDisposable
{
    private readonly OriSocketsRedisOptions _options;
    private readonly IConnectionMultiplexer? _given;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _probes = new(StringComparer.Ordinal);
    private IConnectionMultiplexer? _multiplexer;

    public RedisBus(OriSocketsRedisOptions options, IConnectionMultiplexer? multiplexer, ILogger logger, RedisCounters counters)
    {
        _options = options;
        _given = multiplexer;
        _logger = logger;
        Counters = counters;
        Prefix = options.ChannelPrefix + ":";
        ControlChannel = new RedisChannel(Prefix + "#control", RedisChannel.PatternMode.Literal);
        Origin = Guid.NewGuid().ToString("N");
    }

    /// <summary>This process's id on Redis: a message carrying it is one of its own.</summary>
    public string Origin { get; }

    public string Prefix { get; }

    public RedisChannel ControlChannel { get; }

    public RedisCounters Counters { get; }

    public IConnectionMultiplexer? Multiplexer => _multiplexer;

    public bool IsConnected => _multiplexer?.IsConnected == true;

    public event Action? Connected;

    public RedisChannel TopicChannel(string topic) => new(Prefix + topic, RedisChannel.PatternMode.Literal);

    /// <summary>
    /// Connects (or adopts the given multiplexer). Never throws for an unreachable Redis: the
    /// multiplexer keeps trying in the background and the caller's subscriptions are made when it connects.
    /// </summary>
    public async Task StartAsync()
    {
        await _connectGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_multiplexer is not null)
            {
                return;
            }

            IConnectionMultiplexer multiplexer;
            if (_given is not null)
            {
                multiplexer = _given;
            }
            else
            {
                var configuration = ConfigurationOptions.Parse(_options.ConnectionString!);
                configuration.AbortOnConnectFail = false;
                configuration.ConnectTimeout = (int)_options.ConnectTimeout.TotalMilliseconds;
                configuration.SyncTimeout = (int)_options.OperationTimeout.TotalMilliseconds;
                configuration.ClientName ??= "ori-sockets-" + Origin[..8];
                multiplexer = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
            }

            multiplexer.ConnectionFailed += OnConnectionFailed;
            multiplexer.ConnectionRestored += OnConnectionRestored;
            _multiplexer = multiplexer;
            if (multiplexer.IsConnected)
            {
                RedisLog.Connected(_logger, _options.ChannelPrefix);
            }
            else
            {
                RedisLog.Unreachable(_logger, _options.ChannelPrefix);
            }
        }
        finally
        {
            _connectGate.Release();
        }
    }

    public ISubscriber Subscriber => (_multiplexer ?? throw new InvalidOperationException("The Redis provider has not started.")).GetSubscriber();

    /// <summary>Publishes one message; throws when Redis does not take it in time.</summary>
    public async ValueTask PublishAsync(RedisChannel channel, byte[] message, CancellationToken cancellationToken)
    {
        if (_multiplexer is not { IsConnected: true } multiplexer)
        {
            Counters.PublishFailed();
            throw new OriSocketsRedisException("Redis is not connected: the message reached this instance's sockets only.");
        }

        try
        {
            await multiplexer.GetSubscriber().PublishAsync(channel, message).WaitAsync(_options.OperationTimeout, cancellationToken).ConfigureAwait(false);
            Counters.Published();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Counters.PublishFailed();
            throw new OriSocketsRedisException("Redis did not take the message: it reached this instance's sockets only.", ex);
        }
    }

    /// <summary>
    /// Publishes a probe on a channel this process subscribes to and waits for it to come back: when it
    /// does, the subscription is live on Redis, and what is published afterwards will be received.
    /// </summary>
    /// <returns>False when Redis is not connected or the probe did not come back in time.</returns>
    public async Task<bool> ProbeAsync(RedisChannel channel)
    {
        if (_multiplexer is not { IsConnected: true } multiplexer)
        {
            return false;
        }

        var id = Guid.NewGuid().ToString("N");
        var probe = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _probes[id] = probe;
        try
        {
            await multiplexer.GetSubscriber().PublishAsync(channel, RedisEnvelope.Encode(RedisMessageKind.Probe, Origin, id, null, [])).ConfigureAwait(false);
            await probe.Task.WaitAsync(_options.OperationTimeout).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return false;
        }
        finally
        {
            _probes.TryRemove(id, out _);
        }
    }

    /// <summary>A probe came back (only this process's own probes complete anything).</summary>
    public void ProbeReturned(string origin, string id)
    {
        if (origin == Origin && _probes.TryGetValue(id, out var probe))
        {
            probe.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_multiplexer is { } multiplexer)
        {
            multiplexer.ConnectionFailed -= OnConnectionFailed;
            multiplexer.ConnectionRestored -= OnConnectionRestored;
            if (_given is null)
            {
                await multiplexer.CloseAsync(allowCommandsToComplete: true).ConfigureAwait(false);
                multiplexer.Dispose();
            }
        }

        _connectGate.Dispose();
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e) =>
        RedisLog.ConnectionLost(_logger, e.ConnectionType.ToString(), e.FailureType.ToString(), e.Exception);

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        RedisLog.ConnectionRestored(_logger, e.ConnectionType.ToString());
        Connected?.Invoke();
    }
}

/// <summary>A publish that Redis did not take: local sockets got their copy, other instances did not.</summary>
public sealed class OriSocketsRedisException : SocketUnavailableException
{
    /// <summary>Creates the exception.</summary>
    public OriSocketsRedisException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What happened.</param>
    public OriSocketsRedisException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The Redis client's error.</param>
    public OriSocketsRedisException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>What the Redis side of Ori.Sockets did: counted, and published as metrics (meter <c>Ori.Sockets.Redis</c>).</summary>
internal sealed class RedisCounters : IDisposable
{
    private readonly Meter _meter = new("Ori.Sockets.Redis");
    private long _published;
    private long _publishFailed;
    private long _received;
    private long _ownSkipped;
    private long _malformed;
    private long _mismatched;
    private long _foreign;

    public RedisCounters()
    {
        _meter.CreateObservableCounter("ori.sockets.redis.published", () => Volatile.Read(ref _published), description: "Messages published to Redis.");
        _meter.CreateObservableCounter("ori.sockets.redis.publish_failed", () => Volatile.Read(ref _publishFailed), description: "Publishes Redis did not take.");
        _meter.CreateObservableCounter("ori.sockets.redis.received", () => Volatile.Read(ref _received), description: "Messages from other instances delivered here.");
        _meter.CreateObservableCounter("ori.sockets.redis.dropped", () => new[]
        {
            new Measurement<long>(Volatile.Read(ref _malformed), new KeyValuePair<string, object?>("reason", "malformed")),
            new Measurement<long>(Volatile.Read(ref _mismatched), new KeyValuePair<string, object?>("reason", "channel_mismatch")),
            new Measurement<long>(Volatile.Read(ref _foreign), new KeyValuePair<string, object?>("reason", "foreign_channel")),
        }, description: "Messages from Redis dropped and never delivered.");
    }

    public long PublishedCount => Volatile.Read(ref _published);

    public long PublishFailedCount => Volatile.Read(ref _publishFailed);

    public long ReceivedCount => Volatile.Read(ref _received);

    public long OwnSkippedCount => Volatile.Read(ref _ownSkipped);

    public long MalformedCount => Volatile.Read(ref _malformed);

    public long MismatchedCount => Volatile.Read(ref _mismatched);

    public long ForeignCount => Volatile.Read(ref _foreign);

    public void Published() => Interlocked.Increment(ref _published);

    public void PublishFailed() => Interlocked.Increment(ref _publishFailed);

    public void Received() => Interlocked.Increment(ref _received);

    public void OwnSkipped() => Interlocked.Increment(ref _ownSkipped);

    public long Malformed() => Interlocked.Increment(ref _malformed);

    public long Mismatched() => Interlocked.Increment(ref _mismatched);

    public long Foreign() => Interlocked.Increment(ref _foreign);

    public void Dispose() => _meter.Dispose();
}

internal static partial class RedisLog
{
    [LoggerMessage(101, LogLevel.Information, "Connected to Redis (channel prefix '{Prefix}').")]
    public static partial void Connected(ILogger logger, string prefix);

    [LoggerMessage(102, LogLevel.Warning, "Redis is unreachable (channel prefix '{Prefix}'): sockets on this instance work, other instances are not reached until it connects; retrying.")]
    public static partial void Unreachable(ILogger logger, string prefix);

    [LoggerMessage(103, LogLevel.Warning, "Lost the Redis {ConnectionType} connection ({FailureType}); retrying.")]
    public static partial void ConnectionLost(ILogger logger, string connectionType, string failureType, Exception? exception);

    [LoggerMessage(104, LogLevel.Information, "Redis {ConnectionType} connection restored.")]
    public static partial void ConnectionRestored(ILogger logger, string connectionType);

    [LoggerMessage(105, LogLevel.Warning, "Dropped a message from Redis on '{Channel}': {Reason}.")]
    public static partial void Dropped(ILogger logger, string channel, string reason);

    [LoggerMessage(106, LogLevel.Warning, "Could not change the Redis subscription of topic '{Topic}'; retrying.")]
    public static partial void SubscriptionFailed(ILogger logger, string topic, Exception exception);
}
