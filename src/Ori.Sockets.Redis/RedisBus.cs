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
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private IConnectionMultiplexer? _multiplexer;

    public RedisBus(OriSocketsRedisOptions options, IConnectionMultiplexer? multiplexer, ILogger logger, RedisCounters counters, TimeProvider time)
    {
        _options = options;
        _given = multiplexer;
        _logger = logger;
        _time = time;
        Counters = counters;
        Prefix = options.ChannelPrefix + ":";
        ControlChannel = RedisChannel.Literal(Prefix + "#control");
        Origin = Guid.NewGuid().ToString("N");

        // A publish's deadline is OperationTimeout after it is sent; its sender waits a fifth longer before it calls it
        // failed, so that a message Redis ran just before the deadline has its answer back in time (and instances'
        // clocks may disagree by that much).
        PublishWait = options.OperationTimeout + (options.OperationTimeout / 5);
    }

    /// <summary>This process's id on Redis: a message carrying it is one of its own.</summary>
    public string Origin { get; }

    public string Prefix { get; }

    public RedisChannel ControlChannel { get; }

    public RedisCounters Counters { get; }

    public IConnectionMultiplexer? Multiplexer => _multiplexer;

    public bool IsConnected => _multiplexer?.IsConnected == true;

    /// <summary>How long a publish waits for Redis before its caller is told it failed.</summary>
    public TimeSpan PublishWait { get; }

    public RedisChannel TopicChannel(string topic) => RedisChannel.Literal(Prefix + topic);

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
                configuration.SyncTimeout = (int)PublishWait.TotalMilliseconds;
                configuration.AsyncTimeout = (int)PublishWait.TotalMilliseconds;
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

    private ISubscriber Subscriber => (_multiplexer ?? throw new InvalidOperationException("The Redis provider has not started.")).GetSubscriber();

    /// <summary>
    /// Subscribes a channel; completes when Redis has confirmed it (while Redis is down it waits in the multiplexer's
    /// backlog, up to its time-out). Messages are delivered in order to <paramref name="onMessage"/>; the multiplexer
    /// makes the subscription again after every reconnect. When it fails, nothing stays registered.
    /// </summary>
    public async Task<ChannelMessageQueue> SubscribeAsync(RedisChannel channel, Action<ChannelMessage> onMessage)
    {
        var subscriber = Subscriber;
        ChannelMessageQueue queue;
        try
        {
            queue = await subscriber.SubscribeAsync(channel).ConfigureAwait(false);
        }
        catch (RedisException)
        {
            // The multiplexer registered the queue before it failed: removed again (locally first; this instance holds
            // one subscription per channel), so that nothing fills a queue nobody reads.
            try
            {
                await subscriber.UnsubscribeAsync(channel, null, CommandFlags.FireAndForget).ConfigureAwait(false);
            }
            catch (RedisException)
            {
            }

            throw;
        }

        queue.OnMessage(onMessage);
        return queue;
    }

    /// <summary>
    /// Drops a subscription: at once here (its messages are no longer delivered), then on Redis, waiting at most the
    /// operation time-out. Never throws: a connection that is gone has dropped it already, and a stalled one drops it
    /// when it runs the command. A subscription still being made is dropped when it is made.
    /// </summary>
    public async ValueTask UnsubscribeAsync(Task<ChannelMessageQueue> subscription)
    {
        if (!subscription.IsCompleted)
        {
            _ = subscription.ContinueWith(static (t, bus) => ((RedisBus)bus!).UnsubscribeAsync(t), this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return;
        }

        if (!subscription.IsCompletedSuccessfully)
        {
            // It failed, and removed itself.
            return;
        }

        try
        {
            await subscription.Result.UnsubscribeAsync().WaitAsync(_options.OperationTimeout, _time).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
        }
    }

    /// <summary>The deadline to stamp on a message sent now (Unix milliseconds).</summary>
    public long Deadline() => (_time.GetUtcNow() + _options.OperationTimeout).ToUnixTimeMilliseconds();

    /// <summary>Whether a message's deadline has passed: its sender has told its caller it failed.</summary>
    public bool IsExpired(long deadline) => deadline != 0 && _time.GetUtcNow().ToUnixTimeMilliseconds() > deadline;

    /// <summary>
    /// Publishes one message stamped with <see cref="Deadline"/>. Returns when Redis has taken it; throws
    /// <see cref="OriSocketsRedisException"/> otherwise, saying whether it may still reach other instances (only when the
    /// connection was lost after the message was written: Redis may have run it).
    /// </summary>
    public async ValueTask PublishAsync(RedisChannel channel, byte[] message, CancellationToken cancellationToken)
    {
        if (_multiplexer is not { IsConnected: true } multiplexer)
        {
            Counters.PublishFailed();
            throw new OriSocketsRedisException("Redis is not connected: the message reached this instance's sockets only.", mayHaveReachedOtherInstances: false);
        }

        try
        {
            await multiplexer.GetSubscriber().PublishAsync(channel, message).WaitAsync(PublishWait, cancellationToken).ConfigureAwait(false);
            Counters.Published();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Counters.PublishFailed();
            throw ex switch
            {
                // Written, then the connection went: Redis may or may not have run it.
                RedisConnectionException { CommandStatus: CommandStatus.Sent or CommandStatus.Unknown } => new OriSocketsRedisException(
                    "The connection to Redis was lost while it handled the message: it reached this instance's sockets, and may have reached other instances.", ex, mayHaveReachedOtherInstances: true),

                // Past its deadline: if Redis runs it late, every receiver drops it.
                TimeoutException or RedisTimeoutException => new OriSocketsRedisException(
                    "Redis did not take the message in time: it reached this instance's sockets only.", ex, mayHaveReachedOtherInstances: false),
                _ => new OriSocketsRedisException("Redis did not take the message: it reached this instance's sockets only.", ex, mayHaveReachedOtherInstances: false),
            };
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

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e) =>
        RedisLog.ConnectionRestored(_logger, e.ConnectionType.ToString());
}

/// <summary>
/// A publish, send or broadcast that Redis did not take: local sockets got their copy; other instances did not, unless
/// <see cref="MayHaveReachedOtherInstances"/> says they may have. Answered <c>unavailable</c> when a handler lets it through.
/// </summary>
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

    internal OriSocketsRedisException(string message, bool mayHaveReachedOtherInstances)
        : base(message) => MayHaveReachedOtherInstances = mayHaveReachedOtherInstances;

    internal OriSocketsRedisException(string message, Exception innerException, bool mayHaveReachedOtherInstances)
        : base(message, innerException) => MayHaveReachedOtherInstances = mayHaveReachedOtherInstances;

    /// <summary>
    /// False (nearly always): the message reached no other instance and never will, so sending it again does not
    /// duplicate it. True only when the connection to Redis was lost after the message was written: Redis may have
    /// delivered it, and a caller that sends it again may duplicate it.
    /// </summary>
    public bool MayHaveReachedOtherInstances { get; }
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
    private long _expired;

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
            new Measurement<long>(Volatile.Read(ref _expired), new KeyValuePair<string, object?>("reason", "expired")),
        }, description: "Messages from Redis dropped and never delivered.");
    }

    public long PublishedCount => Volatile.Read(ref _published);

    public long PublishFailedCount => Volatile.Read(ref _publishFailed);

    public long ReceivedCount => Volatile.Read(ref _received);

    public long OwnSkippedCount => Volatile.Read(ref _ownSkipped);

    public long MalformedCount => Volatile.Read(ref _malformed);

    public long MismatchedCount => Volatile.Read(ref _mismatched);

    public long ForeignCount => Volatile.Read(ref _foreign);

    public long ExpiredCount => Volatile.Read(ref _expired);

    public void Published() => Interlocked.Increment(ref _published);

    public void PublishFailed() => Interlocked.Increment(ref _publishFailed);

    public void Received() => Interlocked.Increment(ref _received);

    public void OwnSkipped() => Interlocked.Increment(ref _ownSkipped);

    public long Malformed() => Interlocked.Increment(ref _malformed);

    public long Mismatched() => Interlocked.Increment(ref _mismatched);

    public long Foreign() => Interlocked.Increment(ref _foreign);

    public long Expired() => Interlocked.Increment(ref _expired);

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
