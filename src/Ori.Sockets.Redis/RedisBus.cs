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
    private readonly Queue<Backlogged> _backlog = new();
    private Task? _drainer;
    // The readiness gate: every lost connection starts a generation; publishes go out when the current one's gate is open
    // (the other instances have subscribed again). _opening is the generation whose gate an OpenAsync works on.
    private int _generation;
    private int _open;
    private int _opening;
    private long _listeners;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TaskCompletionSource> _probes = new(StringComparer.Ordinal);

    // Other instances' origins heard on the control channel (from their probes), at most MaxPeers.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _peers = new(StringComparer.Ordinal);
    private const int MaxPeers = 1024;

    public RedisBus(OriSocketsRedisOptions options, IConnectionMultiplexer? multiplexer, ILogger logger, RedisCounters counters, TimeProvider time)
    {
        _options = options;
        _given = multiplexer;
        _logger = logger;
        _time = time;
        Counters = counters;
        counters.Backlog = () =>
        {
            lock (_backlog)
            {
                return _backlog.Count;
            }
        };
        counters.Listeners = () => Listeners;
        Prefix = options.ChannelPrefix + ":";
        ControlChannel = RedisChannel.Literal(Prefix + "#control");
        Sharded = options.PubSub == RedisPubSubMode.Sharded;
        Origin = Guid.NewGuid().ToString("N");

        // A publish's deadline is OperationTimeout after it is sent; its sender waits a fifth longer before it calls it
        // failed, so that a message Redis ran just before the deadline has its answer back in time (and instances'
        // clocks may disagree by that much).
        PublishWait = options.OperationTimeout + (options.OperationTimeout / 5);
    }

    /// <summary>This process's id on Redis: a message carrying it is one of its own.</summary>
    public string Origin { get; }

    public string Prefix { get; }

    /// <summary>The channel of sends, broadcasts and disconnects (sharded or not, as <see cref="Sharded"/> says, once started).</summary>
    public RedisChannel ControlChannel { get; private set; }

    /// <summary>
    /// Whether channels are sharded (<c>SSUBSCRIBE</c>/<c>SPUBLISH</c>): a topic's traffic then touches only the shard
    /// that owns its slot. Fixed when the bus starts: from the options, or for <see cref="RedisPubSubMode.Auto"/> by
    /// whether the server is a cluster.
    /// </summary>
    public bool Sharded { get; private set; }

    public RedisCounters Counters { get; }

    public IConnectionMultiplexer? Multiplexer => _multiplexer;

    public bool IsConnected => _multiplexer?.IsConnected == true;

    /// <summary>The processes last counted on the control channel (this one included; 0 before a count): the gate after a reconnect waits for as many.</summary>
    public long Listeners => Volatile.Read(ref _listeners);

    public TimeProvider TimeProvider => _time;

    /// <summary>The limit of every wait on Redis.</summary>
    public TimeSpan OperationTimeout => _options.OperationTimeout;

    /// <summary>How long a publish waits for Redis before its caller is told it failed.</summary>
    public TimeSpan PublishWait { get; }

    public RedisChannel TopicChannel(string topic) => Channel(Prefix + topic);

    private RedisChannel Channel(string name) => Sharded ? RedisChannel.Sharded(name) : RedisChannel.Literal(name);

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

                // Every wait of the provider has its own limit; the client library's is long, so that a subscription sent
                // from its backlog as Redis comes back is not given up a moment before Redis confirms it (Redis would hold
                // a subscription this instance had forgotten until the retry made it again).
                configuration.AsyncTimeout = (int)Math.Max(PublishWait.TotalMilliseconds, 30_000);
                // A name of this process's own: the liveness check closes only this process's subscription connections.
                configuration.ClientName = (configuration.ClientName is { Length: > 0 } name ? name + "-" : "ori-sockets-") + Origin[..8];
                configuration.AllowAdmin = true;
                multiplexer = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
            }

            multiplexer.ConnectionFailed += OnConnectionFailed;
            multiplexer.ConnectionRestored += OnConnectionRestored;
            if (_options.PubSub == RedisPubSubMode.Auto)
            {
                // Every instance must choose alike (sharded and classic channels never meet): a cluster is sharded.
                Sharded = multiplexer.IsConnected && multiplexer.GetServers().Any(server => server.ServerType == ServerType.Cluster);
                if (!multiplexer.IsConnected)
                {
                    RedisLog.ModeUnknown(_logger);
                }
            }

            ControlChannel = Channel(Prefix + "#control");
            _multiplexer = multiplexer;
            if (multiplexer.IsConnected)
            {
                RedisLog.Connected(_logger, _options.ChannelPrefix, Sharded ? "sharded" : "classic");
                await CountListenersAsync().ConfigureAwait(false);
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

    /// <summary>Records how long a message from another instance took to get here: its deadline less the operation timeout is when it was sent.</summary>
    public void RecordLag(long deadline)
    {
        if (deadline != 0 && Counters.LagEnabled)
        {
            Counters.Lag(TimeSpan.FromMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds() - deadline) + _options.OperationTimeout);
        }
    }

    /// <summary>
    /// Publishes one message stamped with <paramref name="deadline"/> (<see cref="Deadline"/>, taken when it was built).
    /// While Redis is unreachable, and for a short grace after it is back (so that the other instances have subscribed
    /// again), the message waits in this instance's backlog, in order, up to <see cref="OriSocketsRedisOptions.BacklogLimit"/>
    /// messages, and goes out when Redis is ready. Returns when Redis has taken it in time; throws
    /// <see cref="OriSocketsRedisException"/> otherwise, saying whether it may still reach other instances (only when the
    /// connection was lost after the message was written, or Redis took it after its deadline).
    /// </summary>
    public ValueTask PublishAsync(RedisChannel channel, byte[] message, long deadline, CancellationToken cancellationToken)
    {
        if (_multiplexer is not { } multiplexer)
        {
            Counters.PublishFailed();
            throw new OriSocketsRedisException("Redis is not connected: the message reached this instance's sockets only.", mayHaveReachedOtherInstances: false);
        }

        // The common case takes no lock: Redis is ready and nothing waits. A publish that finds a drainer (or Redis not
        // ready) takes the lock below, so that it goes behind what already waits.
        if (Volatile.Read(ref _drainer) is null && IsReady(multiplexer))
        {
            return Settle(multiplexer.GetSubscriber().PublishAsync(channel, message), deadline, cancellationToken);
        }

        Backlogged? waiting = null;
        lock (_backlog)
        {
            if (_drainer is not null || !IsReady(multiplexer))
            {
                if (_backlog.Count >= _options.BacklogLimit)
                {
                    Counters.PublishFailed();
                    throw new OriSocketsRedisException(
                        $"Redis is not reachable and {_options.BacklogLimit} messages already wait for it: the message reached this instance's sockets only.", mayHaveReachedOtherInstances: false);
                }

                waiting = new Backlogged(channel, message, deadline);
                _backlog.Enqueue(waiting);
                _drainer ??= Task.Run(DrainAsync, CancellationToken.None);
            }
        }

        if (waiting is not null)
        {
            Counters.Backlogged();
            return WaitAsync(waiting, cancellationToken);
        }

        return Settle(multiplexer.GetSubscriber().PublishAsync(channel, message), deadline, cancellationToken);
    }

    /// <summary>
    /// Waits for a backlogged message's outcome until its deadline and a fifth of the operation time-out more; past it, a
    /// message still in the backlog is taken out (never sent), and one already handed to Redis has its outcome by then.
    /// </summary>
    private async ValueTask WaitAsync(Backlogged waiting, CancellationToken cancellationToken)
    {
        try
        {
            await waiting.Outcome.Task.WaitAsync(Remaining(waiting.Deadline), _time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            if (waiting.TryAbandon())
            {
                Counters.PublishFailed();
                throw new OriSocketsRedisException("Redis did not come back in time: the message reached this instance's sockets only.", ex, mayHaveReachedOtherInstances: false);
            }

            // Handed to Redis meanwhile: its outcome comes within the same limit.
            await waiting.Outcome.Task.ConfigureAwait(false);
        }
    }

    /// <summary>What is left of a message's time: until its deadline and a fifth of the operation time-out more.</summary>
    public TimeSpan Remaining(long deadline)
    {
        var left = TimeSpan.FromMilliseconds(deadline - _time.GetUtcNow().ToUnixTimeMilliseconds()) + (_options.OperationTimeout / 5);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    /// <summary>
    /// Sends the backlog in order once Redis is ready: messages past their deadline or given up by their callers are
    /// not sent, the others are handed to the multiplexer in one go (it keeps their order) and their callers told the outcome.
    /// </summary>
    private async Task DrainAsync()
    {
        var pending = new List<(Backlogged Message, Task Sent)>();
        while (true)
        {
            var held = false;
            while (_multiplexer is { } multiplexer && !IsReady(multiplexer))
            {
                if (!held && !multiplexer.IsConnected)
                {
                    RedisLog.Holding(_logger, _options.BacklogLimit, _options.OperationTimeout.TotalSeconds);
                }

                held = true;
                await Task.Delay(TimeSpan.FromMilliseconds(25), _time).ConfigureAwait(false);
            }

            Backlogged[] batch;
            lock (_backlog)
            {
                if (_backlog.Count == 0)
                {
                    _drainer = null;
                    return;
                }

                batch = [.. _backlog];
                _backlog.Clear();
            }

            var subscriber = Subscriber;
            pending.Clear();
            foreach (var message in batch)
            {
                if (IsExpired(message.Deadline))
                {
                    // Its caller is told at its own time limit (WaitAsync): it is never sent.
                    continue;
                }

                if (!message.TryHandOver())
                {
                    // Its caller gave up (time limit or cancellation) and was told it failed.
                    continue;
                }

                pending.Add((message, subscriber.PublishAsync(message.Channel, message.Bytes)));
            }

            if (held)
            {
                RedisLog.Released(_logger, pending.Count, batch.Length - pending.Count);
            }

            foreach (var (message, sent) in pending)
            {
                try
                {
                    await Settle(sent, message.Deadline, CancellationToken.None).ConfigureAwait(false);
                    message.Outcome.TrySetResult();
                }
                catch (OriSocketsRedisException ex)
                {
                    message.Outcome.TrySetException(ex);
                }
            }
        }
    }

    /// <summary>Waits for Redis to take a message (until its deadline and a fifth more) and says what happened.</summary>
    private async ValueTask Settle(Task sent, long deadline, CancellationToken cancellationToken)
    {
        try
        {
            await sent.WaitAsync(Remaining(deadline), _time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Counters.PublishFailed();
            throw ex switch
            {
                // Written, then the connection went: Redis may or may not have run it.
                RedisConnectionException { CommandStatus: CommandStatus.Sent or CommandStatus.Unknown } => new OriSocketsRedisException(
                    "The connection to Redis was lost while it handled the message: it reached this instance's sockets, and may have reached other instances.", ex, mayHaveReachedOtherInstances: true),

                // Past its deadline on a stalled connection: if Redis runs it late, every receiver drops it.
                _ => new OriSocketsRedisException("Redis did not take the message in time: it reached this instance's sockets only.", ex, mayHaveReachedOtherInstances: false),
            };
        }

        if (IsExpired(deadline))
        {
            // Taken, but after its deadline: receivers whose clocks are past it drop it, the others deliver it.
            Counters.PublishFailed();
            throw new OriSocketsRedisException(
                "Redis took the message after its deadline: it reached this instance's sockets, and may have reached other instances.", mayHaveReachedOtherInstances: true);
        }

        Counters.Published();
    }

    /// <summary>
    /// Waits, until <paramref name="deadline"/>, for Redis to be connected and past the grace after a reconnect in which
    /// instances subscribe again (a publish made sooner could reach no instance); true when it is.
    /// </summary>
    public async ValueTask<bool> WaitReadyAsync(long deadline, CancellationToken cancellationToken)
    {
        while (_multiplexer is { } multiplexer && !IsReady(multiplexer))
        {
            if (IsExpired(deadline))
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(25), _time, cancellationToken).ConfigureAwait(false);
        }

        return _multiplexer is not null;
    }

    /// <summary>
    /// Connected, and past the gate after a reconnect: publishes made before the other instances have subscribed again
    /// would reach none of them (Redis pub/sub keeps nothing). The first call that finds Redis back starts the gate's opening.
    /// </summary>
    private bool IsReady(IConnectionMultiplexer multiplexer)
    {
        if (!multiplexer.IsConnected)
        {
            return false;
        }

        var generation = Volatile.Read(ref _generation);
        if (Volatile.Read(ref _open) == generation)
        {
            return true;
        }

        if (Interlocked.Exchange(ref _opening, generation) != generation)
        {
            _ = OpenAsync(multiplexer, generation);
        }

        return false;
    }

    /// <summary>
    /// Opens the gate of a generation after <see cref="ReconnectGrace"/>, and once the instances counted before the outage
    /// listen on the control channel again (and a moment more, for the rest of their subscriptions, which the client
    /// library makes in the same go); instances that did not come back are waited for until <see cref="ListenerWait"/>.
    /// </summary>
    private async Task OpenAsync(IConnectionMultiplexer multiplexer, int generation)
    {
        try
        {
            await WaitForListenersAsync(multiplexer, generation).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Nothing is expected here (the count catches Redis's own failures); whatever it is, the gate must not stay shut.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            RedisLog.GateWaitFailed(_logger, ex);
        }

        if (Volatile.Read(ref _generation) == generation)
        {
            Volatile.Write(ref _open, generation);
        }
    }

    /// <summary>The waiting of <see cref="OpenAsync"/>: the grace, the count of listeners back, the settle; then counted again.</summary>
    private async Task WaitForListenersAsync(IConnectionMultiplexer multiplexer, int generation)
    {
        var started = _time.GetTimestamp();
        var expected = Volatile.Read(ref _listeners);

        // Never sooner than the grace: an instance started since the last count is not in it.
        await Task.Delay(ReconnectGrace, _time).ConfigureAwait(false);
        if (expected > 0)
        {
            long? seen = null;
            while (Volatile.Read(ref _generation) == generation)
            {
                seen = await CountAsync(multiplexer).ConfigureAwait(false);
                if (seen >= expected)
                {
                    await Task.Delay(ResubscribeSettle, _time).ConfigureAwait(false);
                    break;
                }

                if (_time.GetElapsedTime(started) >= ListenerWait)
                {
                    RedisLog.ListenersMissing(_logger, expected - seen.GetValueOrDefault(), ListenerWait.TotalSeconds);
                    break;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(50), _time).ConfigureAwait(false);
            }
        }

        // Counted again: instances that are gone stop being waited for; new ones are waited for next time.
        if (Volatile.Read(ref _generation) == generation && await CountAsync(multiplexer).ConfigureAwait(false) is > 0 and var now)
        {
            Volatile.Write(ref _listeners, now);
        }
    }

    /// <summary>
    /// Counts the processes listening on the control channel (every instance of this prefix, this one included), for the
    /// gate after the next reconnect. Called at start, after the instance's own control subscription, by the liveness
    /// check, and when another instance's first probe is heard (a gate that opens counts again by itself).
    /// </summary>
    public async Task CountListenersAsync()
    {
        if (_multiplexer is { IsConnected: true } multiplexer && await CountAsync(multiplexer).ConfigureAwait(false) is > 0 and var count)
        {
            Volatile.Write(ref _listeners, count);
        }
    }

    /// <summary><c>PUBSUB NUMSUB</c> (or <c>SHARDNUMSUB</c>) of the control channel, on the node that holds its slot; null when Redis did not answer.</summary>
    private async Task<long?> CountAsync(IConnectionMultiplexer multiplexer)
    {
        try
        {
            var reply = await multiplexer.GetDatabase().ExecuteAsync("PUBSUB", Sharded ? "SHARDNUMSUB" : "NUMSUB", (RedisKey)(string?)ControlChannel)
                .WaitAsync(_options.OperationTimeout, _time).ConfigureAwait(false);
            return reply.Resp2Type == ResultType.Array && reply.Length == 2 ? (long)reply[1] : null;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or InvalidCastException)
        {
            return null;
        }
    }

    /// <summary>How long publishes wait after a reconnect at least: a fifth of the operation time-out, at most 1 s.</summary>
    private TimeSpan ReconnectGrace => _options.OperationTimeout / 5 < TimeSpan.FromSeconds(1) ? _options.OperationTimeout / 5 : TimeSpan.FromSeconds(1);

    /// <summary>How long publishes wait after a reconnect for instances that have not subscribed again: half the operation time-out, at least the grace.</summary>
    private TimeSpan ListenerWait => _options.OperationTimeout / 2;

    /// <summary>After the control channel's count is back, the rest of the instances' subscriptions (sent in the same go) are given this long.</summary>
    private static TimeSpan ResubscribeSettle => TimeSpan.FromMilliseconds(100);

    /// <summary>A message that waits for Redis, and its caller's answer.</summary>
    private sealed class Backlogged(RedisChannel channel, byte[] bytes, long deadline)
    {
        private int _state; // 0 waiting, 1 handed to Redis, 2 given up by its caller

        public RedisChannel Channel { get; } = channel;

        public byte[] Bytes { get; } = bytes;

        public long Deadline { get; } = deadline;

        public TaskCompletionSource Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The drainer claims it for sending; false when its caller has given up.</summary>
        public bool TryHandOver() => Interlocked.CompareExchange(ref _state, 1, 0) == 0;

        /// <summary>The caller gives up; false when it was already handed to Redis.</summary>
        public bool TryAbandon() => Interlocked.CompareExchange(ref _state, 2, 0) == 0;
    }

    /// <summary>
    /// Publishes a probe on the control channel and waits for it to come back through this process's subscription.
    /// True: heard. False: Redis took it and its connection is up, yet it did not come back within the operation time-out
    /// (the subscription connection is deaf). Null: cannot tell (not connected, or Redis did not take the probe).
    /// </summary>
    public async Task<bool?> ProbeAsync()
    {
        if (_multiplexer is not { IsConnected: true } multiplexer)
        {
            return null;
        }

        var id = Guid.NewGuid().ToString("N");
        var heard = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _probes[id] = heard;
        try
        {
            try
            {
                var probe = RedisEnvelope.Encode(RedisMessageKind.Probe, Origin, id, null, [], Deadline());
                await multiplexer.GetSubscriber().PublishAsync(ControlChannel, probe).WaitAsync(_options.OperationTimeout, _time).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                return null;
            }

            try
            {
                await heard.Task.WaitAsync(_options.OperationTimeout, _time).ConfigureAwait(false);
                return true;
            }
            catch (TimeoutException)
            {
                return multiplexer.IsConnected ? false : null;
            }
        }
        finally
        {
            _probes.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// A probe came back: this process's own completes its wait; another's, from an instance not heard before (each
    /// probes once when it starts listening: <see cref="AnnounceAsync"/>), has the listeners counted again, so that the
    /// gate after the next reconnect waits for it without waiting for a liveness check.
    /// </summary>
    public void ProbeReturned(string origin, string id)
    {
        if (origin == Origin)
        {
            if (_probes.TryGetValue(id, out var probe))
            {
                probe.TrySetResult();
            }

            return;
        }

        if (_peers.Count >= MaxPeers)
        {
            // Instances that restart leave origins behind: forgotten now and then (a forgotten one is counted again).
            _peers.Clear();
        }

        if (_peers.TryAdd(origin, 0))
        {
            _ = CountListenersAsync();
        }
    }

    /// <summary>
    /// Called when this instance's control subscription is made: counts the listeners, and probes, so that the other
    /// instances count this one now.
    /// </summary>
    public async Task AnnounceAsync()
    {
        await CountListenersAsync().ConfigureAwait(false);
        await ProbeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Has Redis close this process's subscription connections (<c>CLIENT KILL</c>, found by the client name): the client
    /// library connects again and subscribes every channel again. Returns how many were closed; throws
    /// <see cref="RedisCommandException"/> when the multiplexer may not run admin commands (an application's own).
    /// </summary>
    public async Task<int> CloseSubscriptionConnectionsAsync()
    {
        if (_multiplexer is not { } multiplexer)
        {
            return 0;
        }

        var closed = 0;
        foreach (var server in multiplexer.GetServers().Where(s => s.IsConnected))
        {
            var clients = (string?)await server.ExecuteAsync("CLIENT", "LIST", "TYPE", "pubsub").WaitAsync(_options.OperationTimeout, _time).ConfigureAwait(false) ?? string.Empty;
            foreach (var line in clients.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                string? clientId = null;
                var mine = false;
                foreach (var field in line.Split(' '))
                {
                    if (field.StartsWith("id=", StringComparison.Ordinal))
                    {
                        clientId = field[3..];
                    }
                    else if (field == "name=" + multiplexer.ClientName)
                    {
                        mine = true;
                    }
                }

                if (mine && clientId is not null)
                {
                    await server.ExecuteAsync("CLIENT", "KILL", "ID", clientId).WaitAsync(_options.OperationTimeout, _time).ConfigureAwait(false);
                    closed++;
                }
            }
        }

        return closed;
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

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        // The gate closes: when Redis is back, publishes wait for the other instances to subscribe again.
        Interlocked.Increment(ref _generation);
        RedisLog.ConnectionLost(_logger, e.ConnectionType.ToString(), e.FailureType.ToString(), e.Exception);
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        Counters.Reconnected();
        if (_multiplexer is { } multiplexer)
        {
            // Starts the gate's opening without waiting for a publish.
            _ = IsReady(multiplexer);
        }

        RedisLog.ConnectionRestored(_logger, e.ConnectionType.ToString());
    }
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
    private long _backlogged;
    private long _received;
    private long _ownSkipped;
    private long _malformed;
    private long _mismatched;
    private long _foreign;
    private long _expired;
    private long _reconnects;
    private readonly Histogram<double> _lag;

    public RedisCounters()
    {
        _meter.CreateObservableCounter("ori.sockets.redis.reconnects", () => Volatile.Read(ref _reconnects), "{reconnect}", "Connections to Redis restored after a failure (each of the interactive and subscription connections).");
        _meter.CreateObservableGauge("ori.sockets.redis.backlog", () => Backlog?.Invoke() ?? 0, "{message}", "Publishes waiting for Redis to come back (bounded by BacklogLimit).");
        _meter.CreateObservableGauge("ori.sockets.redis.instances", () => Listeners?.Invoke() ?? 0, "{instance}", "Processes of this prefix listening on Redis, as last counted (publishes after a reconnect wait for as many).");
        _lag = _meter.CreateHistogram<double>(
            "ori.sockets.redis.lag",
            "s",
            "From a publish on another instance to its delivery here (by the instances' clocks: keep them synchronized).",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        _meter.CreateObservableCounter("ori.sockets.redis.published", () => Volatile.Read(ref _published), description: "Messages published to Redis.");
        _meter.CreateObservableCounter("ori.sockets.redis.publish_failed", () => Volatile.Read(ref _publishFailed), description: "Publishes Redis did not take.");
        _meter.CreateObservableCounter("ori.sockets.redis.backlogged", () => Volatile.Read(ref _backlogged), description: "Publishes that waited for Redis to come back (or for the grace after it).");
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

    public long BackloggedCount => Volatile.Read(ref _backlogged);

    public long ReceivedCount => Volatile.Read(ref _received);

    public long OwnSkippedCount => Volatile.Read(ref _ownSkipped);

    public long MalformedCount => Volatile.Read(ref _malformed);

    public long MismatchedCount => Volatile.Read(ref _mismatched);

    public long ForeignCount => Volatile.Read(ref _foreign);

    public long ExpiredCount => Volatile.Read(ref _expired);

    /// <summary>The meter (tests listen to this instance's instruments only).</summary>
    internal Meter Meter => _meter;

    /// <summary>How many publishes wait for Redis now (set by the bus).</summary>
    public Func<int>? Backlog { get; set; }

    /// <summary>Reads the processes last counted on the control channel (set by the bus).</summary>
    public Func<long>? Listeners { get; set; }

    public long ReconnectCount => Volatile.Read(ref _reconnects);

    public void Reconnected() => Interlocked.Increment(ref _reconnects);

    /// <summary>Whether anything listens to the lag (it is computed only then).</summary>
    public bool LagEnabled => _lag.Enabled;

    public void Lag(TimeSpan lag) => _lag.Record(Math.Max(0, lag.TotalSeconds));

    public void Published() => Interlocked.Increment(ref _published);

    public void PublishFailed() => Interlocked.Increment(ref _publishFailed);

    public void Backlogged() => Interlocked.Increment(ref _backlogged);

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
    [LoggerMessage(101, LogLevel.Information, "Connected to Redis (channel prefix '{Prefix}', {Mode} pub/sub).")]
    public static partial void Connected(ILogger logger, string prefix, string mode);

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

    [LoggerMessage(109, LogLevel.Warning, "Redis was unreachable at start, so whether it is a cluster is unknown: using classic pub/sub. On a Redis Cluster set Ori:Sockets:Redis:PubSub to Sharded on every instance.")]
    public static partial void ModeUnknown(ILogger logger);

    [LoggerMessage(110, LogLevel.Warning, "The Redis subscription connection is connected but hears nothing (two probes did not come back); closed {Closed} to make it again.")]
    public static partial void SubscriptionDeaf(ILogger logger, int closed);

    [LoggerMessage(111, LogLevel.Error, "The Redis subscription connection hears nothing, and it could not be made again: {Reason}")]
    public static partial void SubscriptionDeafUnrepaired(ILogger logger, string reason, Exception? exception);

    [LoggerMessage(112, LogLevel.Warning, "The presence heartbeat could not reach Redis: {Reason}; trying again at the next one.")]
    public static partial void PresenceBeatFailed(ILogger logger, string reason);

    [LoggerMessage(113, LogLevel.Information, "Instance {Instance} stopped beating: {Departed} of its sockets left presence.")]
    public static partial void InstanceReaped(ILogger logger, string instance, int departed);

    [LoggerMessage(107, LogLevel.Warning, "Redis is unreachable: publishes wait for it, in order (at most {Limit} of them, each at most {Seconds} s).")]
    public static partial void Holding(ILogger logger, int limit, double seconds);

    [LoggerMessage(108, LogLevel.Information, "Redis is back: sent {Sent} publishes that waited for it ({Abandoned} had run out of time or were given up and were not sent).")]
    public static partial void Released(ILogger logger, int sent, int abandoned);

    [LoggerMessage(115, LogLevel.Error, "Waiting for the other instances after Redis came back failed; publishes go on without waiting.")]
    public static partial void GateWaitFailed(ILogger logger, Exception exception);

    [LoggerMessage(114, LogLevel.Warning, "Redis is back, and {Missing} of the instances that listened before have not subscribed again after {Seconds} s: taken as gone, publishes go on.")]
    public static partial void ListenersMissing(ILogger logger, long missing, double seconds);
}
