using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Text;
using Ori.Sockets.PubSub;
using Ori.Sockets.Telemetry;
using StackExchange.Redis;

namespace Ori.Sockets.Redis;

/// <summary>
/// The histories of recoverable topics, shared by every instance through Redis. A topic <c>T</c> has a stream
/// <c>{prefix:T}:history</c> (its pushes, oldest first) and a hash <c>{prefix:T}:position</c> (its epoch and last offset);
/// both share the hash tag of the topic's channel <c>prefix:T</c>, so that keys and channel live in one cluster slot. One
/// script takes the next offset, appends the push, trims the history by count and age, and publishes the push with its
/// position: two instances never hand out one offset, and the channel carries pushes in offset order. A receiver
/// delivers them in the order they come, its own included (a publisher does not deliver locally first: the order
/// would be its own then).
/// </summary>
internal sealed class RedisHistories(RedisBus bus, TopicHistories topics)
{
    // KEYS: history, position. ARGV: deadline (Unix ms, 0 none), new epoch, max messages, max age (ms), position ttl (ms),
    // channel, header, payload, publish command. Returns the offset, or nil when Redis ran it after its deadline (then
    // nothing is kept or published: its publisher tells its caller the publish failed).
    private const string PublishScript = """
        local deadline = tonumber(ARGV[1])
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        if deadline > 0 and now > deadline then return false end
        local epoch = redis.call('HGET', KEYS[2], 'e')
        if not epoch then
          epoch = ARGV[2]
          redis.call('DEL', KEYS[1])
          redis.call('HSET', KEYS[2], 'e', epoch)
        end
        local offset = redis.call('HINCRBY', KEYS[2], 'o', 1)
        redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], '*', 'd', ARGV[8])
        redis.call('XTRIM', KEYS[1], 'MINID', now - tonumber(ARGV[4]))
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        redis.call('PEXPIRE', KEYS[2], ARGV[5])
        redis.call(ARGV[9], ARGV[6], ARGV[7] .. offset .. ',' .. epoch .. ',' .. ARGV[8])
        return offset
        """;

    // KEYS: history, position. ARGV: new epoch, max age (ms), position ttl (ms), asked epoch ('' none), asked offset.
    // Returns {epoch, latest offset, recovered (0/1), pushes after the asked offset, oldest first...}.
    private const string RecoverScript = """
        local epoch = redis.call('HGET', KEYS[2], 'e')
        if not epoch then
          epoch = ARGV[1]
          redis.call('DEL', KEYS[1])
          redis.call('HSET', KEYS[2], 'e', epoch, 'o', 0)
          redis.call('PEXPIRE', KEYS[2], ARGV[3])
          return {epoch, 0, 0}
        end
        redis.call('PEXPIRE', KEYS[2], ARGV[3])
        local offset = tonumber(redis.call('HGET', KEYS[2], 'o') or '0')
        if ARGV[4] == '' then return {epoch, offset, 0} end
        local from = tonumber(ARGV[5])
        if ARGV[4] ~= epoch or from > offset then return {epoch, offset, 0} end
        if from == offset then return {epoch, offset, 1} end
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        redis.call('XTRIM', KEYS[1], 'MINID', now - tonumber(ARGV[2]))
        local missed = offset - from
        if redis.call('XLEN', KEYS[1]) < missed then return {epoch, offset, 0} end
        local entries = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', missed)
        local result = {epoch, offset, 1}
        for i = #entries, 1, -1 do result[#result + 1] = entries[i][2][2] end
        return result
        """;

    private readonly ConcurrentDictionary<string, Channel> _channels = new(StringComparer.Ordinal);

    /// <summary>Whether any topic is recoverable.</summary>
    public bool Any => topics.Any;

    /// <summary>The history bounds of <paramref name="topic"/>, when it is recoverable.</summary>
    public RecoverableTopic? Find(string topic) => topics.Any ? topics.Find(topic) : null;

    /// <summary>
    /// Publishes a push to a recoverable topic: its offset is taken, it is kept and published in one script. Throws
    /// <see cref="OriSocketsRedisException"/> when Redis did not run it in time (then no socket received it).
    /// </summary>
    public async ValueTask PublishAsync(RecoverableTopic policy, string topic, string? except, SocketFrame frame, CancellationToken cancellationToken)
    {
        var deadline = bus.Deadline();
        if (bus.Multiplexer is not { IsConnected: true } multiplexer || !await bus.WaitReadyAsync(deadline, cancellationToken).ConfigureAwait(false))
        {
            // Down, or just back (instances are subscribing again): it waits for the grace, never for an outage.
            bus.Counters.PublishFailed();
            throw new OriSocketsRedisException("Redis is not connected: a push to a recoverable topic takes its offset from Redis, so it reached no socket.", mayHaveReachedOtherInstances: false);
        }

        using var activity = SocketTracing.StartPublish("topic", topic);
        var header = RedisEnvelope.Encode(RedisMessageKind.Positioned, bus.Origin, topic, except, [], deadline, SocketTracing.CurrentTraceparent());
        var keys = Keys(topic);
        RedisValue[] arguments =
        [
            deadline,
            NewEpoch(),
            policy.MaxMessages,
            (long)policy.MaxAge.TotalMilliseconds,
            (long)policy.PositionLifetime.TotalMilliseconds,
            bus.Prefix + topic,
            header,
            frame.Payload,
            bus.Sharded ? "SPUBLISH" : "PUBLISH",
        ];

        RedisResult result;
        try
        {
            result = await multiplexer.GetDatabase().ScriptEvaluateAsync(PublishScript, keys, arguments)
                .WaitAsync(bus.Remaining(deadline), bus.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            bus.Counters.PublishFailed();
            throw ex is RedisConnectionException { CommandStatus: CommandStatus.Sent or CommandStatus.Unknown }
                ? new OriSocketsRedisException("The connection to Redis was lost while it handled the push: it may have been kept and delivered.", ex, mayHaveReachedOtherInstances: true)
                : new OriSocketsRedisException("Redis did not take the push in time: it reached no socket.", ex, mayHaveReachedOtherInstances: false);
        }

        if (result.IsNull)
        {
            // The script saw its deadline pass (Redis stalled): it kept and published nothing.
            bus.Counters.PublishFailed();
            throw new OriSocketsRedisException("Redis ran the push after its deadline and dropped it: it reached no socket.", mayHaveReachedOtherInstances: false);
        }

        bus.Counters.Published();
    }

    /// <summary>
    /// Subscribes a local socket to a recoverable topic, recovering from <paramref name="recover"/>: pushes that arrive
    /// while the history is read are held for it; under the topic's lock (which every delivery of the topic takes) it is
    /// subscribed, told (<c>beforeReplay</c>), given what it missed, then what was held and is newer. The channel's
    /// subscription (<c>ensureSubscribed</c>, confirmed by Redis) is made before the history is read.
    /// </summary>
    public async ValueTask<SocketSubscription> SubscribeAsync(
        SocketHub hub, RecoverableTopic policy, string socketId, string topic, SocketPosition? recover, Action<SocketSubscription>? beforeReplay,
        Func<string, ValueTask> ensureSubscribed, CancellationToken cancellationToken)
    {
        var held = new Held();
        var channel = Enter(topic, held);
        try
        {
            // Every push published after the history is read must come through this instance's subscription.
            await ensureSubscribed(topic).ConfigureAwait(false);
            if (bus.Multiplexer is not { IsConnected: true } multiplexer)
            {
                throw new OriSocketsRedisException("Redis is not connected: the position of a recoverable topic cannot be read.", mayHaveReachedOtherInstances: false);
            }

            var keys = Keys(topic);
            RedisValue[] arguments =
            [
                NewEpoch(),
                (long)policy.MaxAge.TotalMilliseconds,
                (long)policy.PositionLifetime.TotalMilliseconds,
                recover?.Epoch ?? string.Empty,
                recover?.Offset ?? 0,
            ];

            RedisResult[] read;
            try
            {
                read = (RedisResult[])(await multiplexer.GetDatabase().ScriptEvaluateAsync(RecoverScript, keys, arguments)
                    .WaitAsync(bus.OperationTimeout, bus.TimeProvider, cancellationToken).ConfigureAwait(false))!;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                throw new OriSocketsRedisException("The history of a recoverable topic could not be read from Redis in time.", ex, mayHaveReachedOtherInstances: false);
            }

            var epoch = (string)read[0]!;
            var latest = (long)read[1];
            var recovered = (long)read[2] == 1;
            var subscription = new SocketSubscription(recovered, new SocketPosition(epoch, latest));
            lock (channel.Lock)
            {
                cancellationToken.ThrowIfCancellationRequested();
                channel.Leave(held);
                if (hub.Subscribe(socketId, topic) == SubscriptionChange.LimitReached)
                {
                    throw SocketLimitExceededException.Rooms(hub.MaxTopicsPerSocket);
                }

                beforeReplay?.Invoke(subscription);
                var offset = recover?.Offset ?? 0;
                for (var i = 3; i < read.Length; i++)
                {
                    hub.DeliverToSocket(socketId, TopicHistories.Positioned(topic, ++offset, epoch, ((byte[])read[i]!).AsSpan()));
                }

                foreach (var (pushEpoch, pushOffset, frame) in held.Pushes)
                {
                    // Older ones were in the history (or before the subscription); another epoch began after it was read.
                    if (pushOffset > latest || pushEpoch != epoch)
                    {
                        hub.DeliverToSocket(socketId, frame);
                    }
                }

                // Pushes up to the position read may still be on their way here: the socket must not get them now.
                channel.Floor(socketId, epoch, latest);
            }

            return subscription;
        }
        finally
        {
            lock (channel.Lock)
            {
                channel.Leave(held);
            }
        }
    }

    /// <summary>Whether a join of <paramref name="topic"/> is under way here (it needs the channel's subscription).</summary>
    public bool IsJoining(string topic) => _channels.TryGetValue(topic, out var channel) && Volatile.Read(ref channel.Joining) > 0;

    /// <summary>Forgets the lock of a topic nobody here subscribes to or joins.</summary>
    public void Forget(string topic)
    {
        if (_channels.TryGetValue(topic, out var channel))
        {
            lock (channel.Lock)
            {
                if (channel.Joining == 0)
                {
                    channel.Gone = true;
                    _channels.TryRemove(new KeyValuePair<string, Channel>(topic, channel));
                }
            }
        }
    }

    /// <summary>
    /// Delivers a positioned push from the topic's channel (the payload is <c>offset,epoch,push</c>): to the topic's
    /// local subscribers, and held for the joins under way. False when it is malformed.
    /// </summary>
    public bool Deliver(SocketHub hub, string topic, ReadOnlySpan<byte> payload, IReadOnlyCollection<string>? except)
    {
        var comma = payload.IndexOf((byte)',');
        if (comma <= 0 || !Utf8Parser.TryParse(payload[..comma], out long offset, out var consumed) || consumed != comma || offset <= 0)
        {
            return false;
        }

        var rest = payload[(comma + 1)..];
        var second = rest.IndexOf((byte)',');
        if (second <= 0 || second > 64)
        {
            return false;
        }

        var epoch = Encoding.UTF8.GetString(rest[..second]);
        var frame = TopicHistories.Positioned(topic, offset, epoch, rest[(second + 1)..]);
        while (true)
        {
            // Always under the topic's lock: a delivery begun before a join subscribed its socket must not reach it after.
            var channel = _channels.GetOrAdd(topic, static _ => new Channel());
            lock (channel.Lock)
            {
                if (!channel.Gone)
                {
                    hub.DeliverToTopic(topic, frame, channel.Passed(epoch, offset, except));
                    channel.Hold(epoch, offset, frame);
                    return true;
                }
            }
        }
    }

    private Channel Enter(string topic, Held held)
    {
        while (true)
        {
            var channel = _channels.GetOrAdd(topic, static _ => new Channel());
            lock (channel.Lock)
            {
                if (!channel.Gone)
                {
                    channel.Enter(held);
                    return channel;
                }
            }
        }
    }

    private RedisKey[] Keys(string topic)
    {
        // The hash tag is the channel's name: keys and channel hash to one slot (topics and prefixes have no braces).
        var tag = "{" + bus.Prefix + topic + "}";
        return [tag + ":history", tag + ":position"];
    }

    private static string NewEpoch() => Guid.NewGuid().ToString("N")[..12];

    /// <summary>A topic's lock on this instance and the joins under way, each holding the pushes that arrive meanwhile.</summary>
    private sealed class Channel
    {
        public readonly Lock Lock = new();
        public int Joining;
        public bool Gone;
        private List<Held>? _held;
        private Dictionary<string, (string Epoch, long Offset)>? _floors;
        private string? _epoch;
        private long _offset;

        /// <summary>A socket that joined at <paramref name="latest"/> skips pushes up to it that are still on their way.</summary>
        public void Floor(string socketId, string epoch, long latest)
        {
            if (_epoch != epoch || _offset < latest)
            {
                (_floors ??= new(StringComparer.Ordinal))[socketId] = (epoch, latest);
            }
        }

        /// <summary>
        /// Records a push delivered here; returns the sockets it must skip: the publisher's, and sockets that joined at
        /// a position at or past it (a floor is dropped once a push above it passes: the channel is in offset order).
        /// </summary>
        public IReadOnlyCollection<string>? Passed(string epoch, long offset, IReadOnlyCollection<string>? except)
        {
            _epoch = epoch;
            _offset = offset;
            if (_floors is not { Count: > 0 } floors)
            {
                return except;
            }

            List<string>? skip = null;
            foreach (var (socketId, floor) in floors)
            {
                if (floor.Epoch == epoch && offset <= floor.Offset)
                {
                    (skip ??= [.. except ?? []]).Add(socketId);
                }
                else
                {
                    floors.Remove(socketId);
                }
            }

            return skip ?? except;
        }

        public void Enter(Held held)
        {
            (_held ??= []).Add(held);
            Joining++;
        }

        public void Leave(Held held)
        {
            if (_held?.Remove(held) == true)
            {
                Joining--;
            }
        }

        public void Hold(string epoch, long offset, SocketFrame frame)
        {
            if (_held is null)
            {
                return;
            }

            foreach (var held in _held)
            {
                held.Add(epoch, offset, frame);
            }
        }
    }

    /// <summary>The pushes held for one join, at most 10,000 (the oldest go first: they are the ones its history read holds).</summary>
    private sealed class Held
    {
        private const int Limit = 10_000;

        public Queue<(string Epoch, long Offset, SocketFrame Frame)> Pushes { get; } = new();

        public void Add(string epoch, long offset, SocketFrame frame)
        {
            if (Pushes.Count == Limit)
            {
                Pushes.Dequeue();
            }

            Pushes.Enqueue((epoch, offset, frame));
        }
    }
}
