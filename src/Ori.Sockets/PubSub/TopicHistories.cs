using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Ori.Sockets.PubSub;

/// <summary>A pattern of recoverable topics (exact, or a prefix ending with <c>*</c>) and its history bounds.</summary>
/// <param name="Pattern">The topics.</param>
/// <param name="MaxMessages">The most pushes kept.</param>
/// <param name="MaxAge">The oldest push kept.</param>
internal sealed record RecoverableTopic(string Pattern, int MaxMessages, TimeSpan MaxAge)
{
    /// <summary>Checks a declaration: a valid topic, or a valid prefix followed by <c>*</c>; positive bounds.</summary>
    public static RecoverableTopic Create(string pattern, int maxMessages, TimeSpan? maxAge)
    {
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        var name = pattern.EndsWith('*') ? pattern[..^1] : pattern;
        if (name.Length > 0 && !SocketNames.IsValidTopic(name))
        {
            throw new ArgumentException($"'{pattern}' is neither a topic nor a topic prefix followed by '*': use {SocketNames.TopicRule}.", nameof(pattern));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        var age = maxAge ?? TimeSpan.FromMinutes(10);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(age, TimeSpan.Zero, nameof(maxAge));
        return new RecoverableTopic(pattern, maxMessages, age);
    }

    /// <summary>How long a topic's position (epoch, offset) outlives its last publish or join: a day, or twice the history's age.</summary>
    public TimeSpan PositionLifetime => MaxAge * 2 > TimeSpan.FromDays(1) ? MaxAge * 2 : TimeSpan.FromDays(1);

    public bool Matches(string topic) => Pattern.EndsWith('*')
        ? topic.StartsWith(Pattern.AsSpan(0, Pattern.Length - 1), StringComparison.Ordinal)
        : string.Equals(topic, Pattern, StringComparison.Ordinal);
}

/// <summary>
/// The in-memory histories of the recoverable topics of this instance: each publish gets the next offset and the push
/// carries its position; a join that asks to recover gets what it missed, in order, before any newer push (the
/// history's lock orders the two). A sweep every minute drops pushes past their age from topics nobody publishes to any
/// more, and forgets a topic whose history has been empty for a day (or twice its age): a later join there finds a new
/// epoch, as on Redis.
/// </summary>
internal sealed class TopicHistories(IEnumerable<RecoverableTopic> topics, TimeProvider time) : IDisposable
{
    private static readonly TimeSpan s_sweepInterval = TimeSpan.FromMinutes(1);
    private readonly RecoverableTopic[] _topics = [.. topics];
    private readonly ConcurrentDictionary<string, History> _histories = new(StringComparer.Ordinal);
    private ITimer? _sweeper;

    /// <summary>Whether any topic is recoverable.</summary>
    public bool Any => _topics.Length > 0;

    /// <summary>The bounds of <paramref name="topic"/>'s history, when it is recoverable (the first pattern that matches).</summary>
    public RecoverableTopic? Find(string topic)
    {
        // A loop, not Array.Find: a plain topic's publish checks this too, and must not allocate a closure for it.
        foreach (var candidate in _topics)
        {
            if (candidate.Matches(topic))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>The history of <paramref name="topic"/>, when it is recoverable.</summary>
    public bool TryGet(string topic, out History history)
    {
        if (_histories.TryGetValue(topic, out history!))
        {
            return true;
        }

        var policy = Find(topic);
        if (policy is null)
        {
            return false;
        }

        history = _histories.GetOrAdd(topic, static (name, state) => new History(name, state.policy, state.time), (policy, time));
        if (Volatile.Read(ref _sweeper) is null)
        {
            var sweeper = time.CreateTimer(static state => ((TopicHistories)state!).Sweep(), this, s_sweepInterval, s_sweepInterval);
            if (Interlocked.CompareExchange(ref _sweeper, sweeper, null) is not null)
            {
                sweeper.Dispose();
            }
        }

        return true;
    }

    /// <summary>The number of topics with a history here (tests).</summary>
    internal int Count => _histories.Count;

    /// <summary>Trims every history by age; forgets the ones empty for longer than their position lives.</summary>
    internal void Sweep()
    {
        foreach (var (topic, history) in _histories)
        {
            lock (history.Lock)
            {
                if (history.Sweep())
                {
                    _histories.TryRemove(new KeyValuePair<string, History>(topic, history));
                }
            }
        }
    }

    public void Dispose() => _sweeper?.Dispose();

    /// <summary>One topic's history: its epoch, its last offset, its pushes (each with its position spliced in).</summary>
    internal sealed class History(string topic, RecoverableTopic policy, TimeProvider time)
    {
        private readonly Queue<(long Offset, long At, SocketFrame Frame)> _pushes = new();

        /// <summary>Publishes and recoveries of the topic take it, so that a replay is queued before any newer push.</summary>
        public Lock Lock { get; } = new();

        public string Epoch { get; } = Guid.NewGuid().ToString("N")[..12];

        public long Latest { get; private set; }

        private long _lastPublish = time.GetTimestamp();

        /// <summary>Drops pushes past their age; true when the history is empty and idle past its position's lifetime.</summary>
        public bool Sweep()
        {
            var now = time.GetTimestamp();
            Trim(now);
            return _pushes.Count == 0 && time.GetElapsedTime(_lastPublish, now) > policy.PositionLifetime;
        }

        /// <summary>Takes the next offset for a push and keeps it, its position spliced in. Call under <see cref="Lock"/>.</summary>
        public SocketFrame Append(SocketFrame frame)
        {
            var offset = ++Latest;
            var positioned = Positioned(topic, offset, Epoch, frame.Payload.Span);
            var now = time.GetTimestamp();
            _lastPublish = now;
            _pushes.Enqueue((offset, now, positioned));
            Trim(now);
            return positioned;
        }

        /// <summary>The pushes after <paramref name="offset"/>, when the history still holds all of them. Call under <see cref="Lock"/>.</summary>
        public List<SocketFrame>? After(string epoch, long offset)
        {
            Trim(time.GetTimestamp());
            if (epoch != Epoch || offset < 0 || offset > Latest)
            {
                return null;
            }

            if (offset == Latest)
            {
                return [];
            }

            if (_pushes.Count == 0 || _pushes.Peek().Offset > offset + 1)
            {
                // Older than what is kept.
                return null;
            }

            return [.. _pushes.Where(p => p.Offset > offset).Select(p => p.Frame)];
        }

        private void Trim(long now)
        {
            while (_pushes.Count > policy.MaxMessages || (_pushes.Count > 0 && time.GetElapsedTime(_pushes.Peek().At, now) > policy.MaxAge))
            {
                _pushes.Dequeue();
            }
        }
    }

    /// <summary>The push with <c>"topic"</c>, <c>"offset"</c> and <c>"epoch"</c> spliced in before its closing brace.</summary>
    internal static SocketFrame Positioned(string topic, long offset, string epoch, ReadOnlySpan<byte> push)
    {
        var end = push.LastIndexOf((byte)'}');
        if (end < 0)
        {
            return SocketFrame.Text(push);
        }

        var tail = Encoding.UTF8.GetBytes($",\"topic\":\"{topic}\",\"offset\":{offset.ToString(CultureInfo.InvariantCulture)},\"epoch\":\"{epoch}\"}}");
        var bytes = new byte[end + tail.Length];
        push[..end].CopyTo(bytes);
        tail.CopyTo(bytes.AsSpan(end));
        return SocketFrame.Text(bytes);
    }
}
