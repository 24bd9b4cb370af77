using System.Collections.Concurrent;
using Ori.Sockets.Connections;

namespace Ori.Sockets;

/// <summary>How a subscription call changed this instance's topic registry.</summary>
public enum SubscriptionChange
{
    /// <summary>Nothing changed: already (un)subscribed, or the socket is not connected here.</summary>
    None,

    /// <summary>The socket was added to or removed from a topic that has other local subscribers.</summary>
    Changed,

    /// <summary>The topic's first local subscriber arrived: a scaling provider subscribes the topic on its backplane.</summary>
    TopicActivated,

    /// <summary>The topic's last local subscriber left: a scaling provider drops the topic on its backplane.</summary>
    TopicVacated,

    /// <summary>Refused: the socket is subscribed to as many topics as it may be (<c>MaxRoomsPerSocket</c>); nothing changed.</summary>
    LimitReached,
}

/// <summary>
/// The native pub/sub core of one server instance: the sockets that passed their guards, the topics
/// they subscribe to, and local delivery. Delivery only queues the (already encoded) frame on each
/// socket's bounded outbound queue; it never waits for a socket. Providers deliver through it.
/// </summary>
/// <remarks>
/// Membership is kept here and only here: each socket's entry holds its topics, each topic holds its
/// entries. Both sides change under the socket entry's lock, so they always agree.
/// </remarks>
public sealed class SocketHub
{
    private readonly ConcurrentDictionary<string, Member> _sockets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Topic> _topics = new(StringComparer.Ordinal);

    // Each user's local sockets (a member set like a topic's, the same lock-free snapshot for delivery).
    private readonly ConcurrentDictionary<string, Topic> _users = new(StringComparer.Ordinal);

    // Sockets that left the broadcast set but whose subscriptions the provider has not released yet.
    private readonly ConcurrentDictionary<string, Member> _released = new(StringComparer.Ordinal);
    private readonly Lock _allLock = new();
    private IOutboundSocket[]? _all;

    private readonly TimeProvider _time;

    internal SocketHub(int maxTopicsPerSocket = int.MaxValue, TimeProvider? time = null)
    {
        MaxTopicsPerSocket = maxTopicsPerSocket;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The process-wide outbound budget publishes wait for (null: none).</summary>
    internal Connections.OutboundBudget? Budget { get; init; }

    /// <summary>Completes at once while the outbound budget has room; otherwise when the sockets' writers have made some.</summary>
    internal ValueTask WaitForBudgetAsync(CancellationToken cancellationToken) =>
        Budget is { } budget ? budget.WaitAsync(_time, cancellationToken) : default;

    /// <summary>Told of every member that joins or leaves a topic here (after the change): presence events, a provider's registry.</summary>
    internal Action<string, SocketPresenceMember, bool>? MembershipChanged { get; set; }

    /// <summary>Told of every socket with a user id that becomes ready here (true) or leaves (false): a provider's registry.</summary>
    internal Action<SocketPresenceMember, bool>? UserSocketChanged { get; set; }

    /// <summary>A member of another instance is gone (its instance died): listeners hear it left, as if it had been local.</summary>
    internal void ReportDeparted(string topic, SocketPresenceMember member) => MembershipChanged?.Invoke(topic, member, false);

    /// <summary>The most topics one socket may be subscribed to on this instance.</summary>
    public int MaxTopicsPerSocket { get; }

    /// <summary>The number of sockets on this instance that passed their guards.</summary>
    public int ConnectionCount => _sockets.Count;

    /// <summary>Whether a socket that passed its guards is connected to this instance.</summary>
    /// <param name="socketId">The socket's id.</param>
    /// <returns><see langword="true"/> when it is.</returns>
    public bool Contains(string socketId) => _sockets.ContainsKey(socketId);

    /// <summary>The number of local subscribers of <paramref name="topic"/>.</summary>
    /// <param name="topic">The topic.</param>
    /// <returns>The count, 0 for an unknown topic.</returns>
    public int GetSubscriberCount(string topic) => _topics.TryGetValue(topic, out var t) ? t.Count : 0;

    /// <summary>The local members of a topic: socket, user, and when each joined; oldest first.</summary>
    /// <param name="topic">The topic.</param>
    /// <returns>The members; empty for a topic without local subscribers.</returns>
    public IReadOnlyList<SocketPresenceMember> GetMembers(string topic)
    {
        if (!_topics.TryGetValue(topic, out var entry))
        {
            return [];
        }

        var members = new List<SocketPresenceMember>();
        foreach (var member in entry.Members())
        {
            lock (member)
            {
                if (member.Topics is not null && member.Topics.TryGetValue(topic, out var since))
                {
                    members.Add(new SocketPresenceMember(member.Socket.Id, member.UserId, DateTimeOffset.FromUnixTimeMilliseconds(since)));
                }
            }
        }

        members.Sort(static (a, b) => a.Since.CompareTo(b.Since));
        return members;
    }

    /// <summary>The topics a local socket is subscribed to.</summary>
    /// <param name="socketId">The socket's id.</param>
    /// <returns>The topics; empty when it has none or is not connected here.</returns>
    public IReadOnlyList<string> GetTopics(string socketId)
    {
        if (!_sockets.TryGetValue(socketId, out var member))
        {
            return [];
        }

        lock (member)
        {
            return member.Topics is null ? [] : [.. member.Topics.Keys];
        }
    }

    /// <summary>A snapshot of every topic with local subscribers and their counts.</summary>
    /// <returns>Topic names and subscriber counts.</returns>
    public IReadOnlyDictionary<string, int> GetSubscriberCounts()
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (name, topic) in _topics)
        {
            var count = topic.Count;
            if (count > 0)
            {
                result[name] = count;
            }
        }

        return result;
    }

    /// <summary>Adds a local socket to a topic.</summary>
    /// <param name="socketId">The socket's id.</param>
    /// <param name="topic">A valid topic.</param>
    /// <returns>How the registry changed; <see cref="SubscriptionChange.LimitReached"/> when the socket has all the topics it may have.</returns>
    /// <exception cref="ArgumentException">The topic is not valid.</exception>
    public SubscriptionChange Subscribe(string socketId, string topic)
    {
        ThrowIfInvalidTopic(topic);
        if (!_sockets.TryGetValue(socketId, out var member))
        {
            return SubscriptionChange.None;
        }

        SubscriptionChange change;
        long since;
        lock (member)
        {
            member.Topics ??= new Dictionary<string, long>(StringComparer.Ordinal);
            if (member.Released || member.Topics.ContainsKey(topic))
            {
                return SubscriptionChange.None;
            }

            if (member.Topics.Count >= MaxTopicsPerSocket)
            {
                return SubscriptionChange.LimitReached;
            }

            since = _time.GetUtcNow().ToUnixTimeMilliseconds();
            member.Topics.Add(topic, since);

            while (true)
            {
                var entry = _topics.GetOrAdd(topic, static _ => new Topic());
                var added = entry.Add(member);
                if (added == Topic.AddResult.Removed)
                {
                    // The entry emptied and left the dictionary between GetOrAdd and Add: take a fresh one.
                    continue;
                }

                change = added == Topic.AddResult.AddedFirst ? SubscriptionChange.TopicActivated : SubscriptionChange.Changed;
                break;
            }
        }

        MembershipChanged?.Invoke(topic, new SocketPresenceMember(socketId, member.UserId, DateTimeOffset.FromUnixTimeMilliseconds(since)), true);
        return change;
    }

    /// <summary>Removes a local socket from a topic; not an error if it was not subscribed.</summary>
    /// <param name="socketId">The socket's id.</param>
    /// <param name="topic">A valid topic.</param>
    /// <returns>How the registry changed.</returns>
    /// <exception cref="ArgumentException">The topic is not valid.</exception>
    public SubscriptionChange Unsubscribe(string socketId, string topic)
    {
        ThrowIfInvalidTopic(topic);
        if (!_sockets.TryGetValue(socketId, out var member))
        {
            return SubscriptionChange.None;
        }

        SubscriptionChange change;
        long since;
        lock (member)
        {
            if (member.Topics is null || !member.Topics.Remove(topic, out since))
            {
                return SubscriptionChange.None;
            }

            change = RemoveFromTopic(member, topic) ? SubscriptionChange.TopicVacated : SubscriptionChange.Changed;
        }

        MembershipChanged?.Invoke(topic, new SocketPresenceMember(socketId, member.UserId, DateTimeOffset.FromUnixTimeMilliseconds(since)), false);
        return change;
    }

    /// <summary>Removes a socket that closed from every topic it subscribed to.</summary>
    /// <param name="socketId">The socket's id.</param>
    /// <returns>The topics that lost their last local subscriber.</returns>
    public IReadOnlyList<string> RemoveSubscriptions(string socketId)
    {
        if (!_sockets.TryGetValue(socketId, out var member) && !_released.TryGetValue(socketId, out member))
        {
            return [];
        }

        List<string>? vacated = null;
        Dictionary<string, long>? left;
        lock (member)
        {
            // Released for good: later subscriptions of this socket are refused.
            member.Released = true;
            left = member.Topics;
            if (left is null)
            {
                return [];
            }

            foreach (var topic in left.Keys)
            {
                if (RemoveFromTopic(member, topic))
                {
                    (vacated ??= []).Add(topic);
                }
            }

            member.Topics = null;
        }

        if (MembershipChanged is { } changed)
        {
            foreach (var (topic, since) in left)
            {
                changed(topic, new SocketPresenceMember(socketId, member.UserId, DateTimeOffset.FromUnixTimeMilliseconds(since)), false);
            }
        }

        return vacated ?? (IReadOnlyList<string>)[];
    }

    /// <summary>Queues a frame for every local subscriber of a topic.</summary>
    /// <param name="topic">The topic.</param>
    /// <param name="frame">The encoded message.</param>
    /// <param name="exceptSocketIds">Sockets to leave out, or <see langword="null"/>.</param>
    /// <returns>The number of sockets it was queued for.</returns>
    public int DeliverToTopic(string topic, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null)
    {
        ArgumentNullException.ThrowIfNull(frame);
        if (!_topics.TryGetValue(topic, out var entry))
        {
            return 0;
        }

        return DeliverTo(entry.Snapshot(), frame, exceptSocketIds);
    }

    /// <summary>Queues a frame for one local socket.</summary>
    /// <param name="socketId">The socket's id.</param>
    /// <param name="frame">The encoded message.</param>
    /// <returns><see langword="false"/> when the socket is not connected here.</returns>
    public bool DeliverToSocket(string socketId, SocketFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        return _sockets.TryGetValue(socketId, out var member) && member.Socket.TryEnqueue(frame);
    }

    /// <summary>Queues a frame for every local socket that passed its guards.</summary>
    /// <param name="frame">The encoded message.</param>
    /// <param name="exceptSocketIds">Sockets to leave out, or <see langword="null"/>.</param>
    /// <returns>The number of sockets it was queued for.</returns>
    public int DeliverToAll(SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var all = _all;
        if (all is null)
        {
            lock (_allLock)
            {
                all = _all ??= [.. _sockets.Values.Select(static m => m.Socket)];
            }
        }

        return DeliverTo(all, frame, exceptSocketIds);
    }

    /// <summary>Queues a frame for every local socket of a user.</summary>
    /// <param name="userId">The user's id.</param>
    /// <param name="frame">The encoded message.</param>
    /// <param name="exceptSocketIds">Sockets to leave out, or <see langword="null"/>.</param>
    /// <returns>The number of sockets it was queued for.</returns>
    public int DeliverToUser(string userId, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null)
    {
        ArgumentNullException.ThrowIfNull(frame);
        if (!_users.TryGetValue(userId, out var entry))
        {
            return 0;
        }

        return DeliverTo(entry.Snapshot(), frame, exceptSocketIds);
    }

    /// <summary>Closes every local socket of a user with 1008 (clients do not reconnect after it).</summary>
    /// <param name="userId">The user's id.</param>
    /// <param name="reason">The close reason (at most 123 bytes of UTF-8 are sent).</param>
    /// <returns>The number of sockets closed.</returns>
    public int DisconnectUser(string userId, string reason)
    {
        if (!_users.TryGetValue(userId, out var entry))
        {
            return 0;
        }

        var sockets = entry.Snapshot();
        foreach (var socket in sockets)
        {
            socket.Close(SocketCloseCodes.PolicyViolation, reason);
        }

        return sockets.Length;
    }

    /// <summary>The ids of a user's sockets on this instance.</summary>
    /// <param name="userId">The user's id.</param>
    /// <returns>The socket ids; empty when the user has none here.</returns>
    public IReadOnlyList<string> GetUserSockets(string userId) =>
        _users.TryGetValue(userId, out var entry) ? [.. entry.Snapshot().Select(static s => s.Id)] : [];

    /// <summary>A user's sockets on this instance, with when each became ready; oldest first.</summary>
    /// <param name="userId">The user's id.</param>
    /// <returns>The sockets; empty when the user has none here.</returns>
    internal IReadOnlyList<SocketPresenceMember> GetUserSocketMembers(string userId) =>
        _users.TryGetValue(userId, out var entry) ? [.. entry.Members().Select(static m => m.AsUserSocket()).OrderBy(static m => m.Since)] : [];

    /// <summary>The user id a local socket carries, or <see langword="null"/>.</summary>
    /// <param name="socketId">The socket's id.</param>
    /// <returns>The user id, or <see langword="null"/> when it has none or is not connected here.</returns>
    public string? GetUserId(string socketId) => _sockets.TryGetValue(socketId, out var member) ? member.UserId : null;

    /// <summary>Closes a local socket with a normal close (1000).</summary>
    /// <param name="socketId">The socket's id.</param>
    /// <returns><see langword="false"/> when the socket is not connected here.</returns>
    public bool Disconnect(string socketId)
    {
        if (!_sockets.TryGetValue(socketId, out var member))
        {
            return false;
        }

        member.Socket.Close(SocketCloseCodes.Normal, "Disconnected by the server");
        return true;
    }

    /// <summary>A socket passed its guards: it receives broadcasts and direct sends (and its user's sends) and may subscribe.</summary>
    internal void Add(IOutboundSocket socket, string? userId = null)
    {
        var member = new Member(socket) { UserId = userId, ConnectedAt = _time.GetUtcNow().ToUnixTimeMilliseconds() };
        _sockets[socket.Id] = member;
        lock (_allLock)
        {
            _all = null;
        }

        if (userId is not null)
        {
            // A user's entry that emptied is being removed: a fresh one is made.
            while (_users.GetOrAdd(userId, static _ => new Topic()).Add(member) == Topic.AddResult.Removed)
            {
            }

            UserSocketChanged?.Invoke(member.AsUserSocket(), true);
        }
    }

    /// <summary>
    /// A socket started closing: it leaves the broadcast set and direct sends at once; its subscriptions stay
    /// until the provider releases them (<see cref="RemoveSubscriptions"/>), then <see cref="Forget"/>.
    /// </summary>
    internal void Remove(string socketId)
    {
        if (_sockets.TryRemove(socketId, out var member))
        {
            _released[socketId] = member;
            lock (_allLock)
            {
                _all = null;
            }

            if (member.UserId is { } userId && _users.TryGetValue(userId, out var user) && user.Remove(member, out var vacated))
            {
                if (vacated)
                {
                    _users.TryRemove(new KeyValuePair<string, Topic>(userId, user));
                }

                UserSocketChanged?.Invoke(member.AsUserSocket(), false);
            }
        }
    }

    /// <summary>The socket has ended and its subscriptions were released.</summary>
    internal void Forget(string socketId) => _released.TryRemove(socketId, out _);

    private int DeliverTo(IOutboundSocket[] targets, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds)
    {
        var delivered = 0;
        var cork = OutboundQueue.BeginPublish();
        try
        {
            foreach (var socket in targets)
            {
                if ((exceptSocketIds is null || !exceptSocketIds.Contains(socket.Id)) && socket.TryEnqueue(frame))
                {
                    delivered++;
                }
            }
        }
        finally
        {
            OutboundQueue.EndPublish(cork, frame.Length);
        }

        Delivered?.Invoke(delivered);
        return delivered;
    }

    /// <summary>Told how many sockets each delivery reached (the runtime's metrics, when the application has them).</summary>
    internal Action<int>? Delivered { get; set; }

    private bool RemoveFromTopic(Member member, string topic)
    {
        if (!_topics.TryGetValue(topic, out var entry) || !entry.Remove(member, out var vacated))
        {
            return false;
        }

        if (vacated)
        {
            // Only the entry that emptied is removed; a fresh one added meanwhile stays.
            _topics.TryRemove(new KeyValuePair<string, Topic>(topic, entry));
        }

        return vacated;
    }

    internal static void ThrowIfInvalidTopic(string topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (!SocketNames.IsValidTopic(topic))
        {
            // A topic is often built from client data: the pipeline answers this with validation_failed, not internal_error.
            throw new PubSub.InvalidSocketArgumentException($"'{Truncate(topic)}' is not a valid topic: use {SocketNames.TopicRule}.", nameof(topic));
        }
    }

    internal static void ThrowIfInvalidUserId(string userId)
    {
        ArgumentNullException.ThrowIfNull(userId);
        if (!SocketNames.IsValidUserId(userId))
        {
            // Often built from client data (a route's argument): answered validation_failed, like a topic.
            throw new PubSub.InvalidSocketArgumentException($"'{Truncate(userId)}' is not a valid user id: use {SocketNames.UserIdRule}.", nameof(userId));
        }
    }

    private static string Truncate(string value) => value.Length <= 64 ? value : string.Concat(value.AsSpan(0, 64), "...");

    /// <summary>
    /// One socket's entry: the socket and the topics it subscribes to, changed under a lock on the entry itself (a
    /// private object; a <see cref="Lock"/> of its own would be 40 bytes more per socket).
    /// </summary>
    private sealed class Member(IOutboundSocket socket)
    {
        public IOutboundSocket Socket { get; } = socket;

        /// <summary>The topics it is in, each with when it joined (Unix milliseconds).</summary>
        public Dictionary<string, long>? Topics { get; set; }

        public bool Released { get; set; }

        public string? UserId { get; init; }

        /// <summary>When the socket became ready (Unix milliseconds).</summary>
        public long ConnectedAt { get; init; }

        public SocketPresenceMember AsUserSocket() => new(Socket.Id, UserId, DateTimeOffset.FromUnixTimeMilliseconds(ConnectedAt));
    }

    /// <summary>One topic's local subscribers; the array snapshot makes publishing lock-free.</summary>
    private sealed class Topic
    {
        private readonly Lock _lock = new();
        private readonly HashSet<Member> _members = [];
        private IOutboundSocket[]? _snapshot;
        private bool _removed;

        public enum AddResult
        {
            Added,
            AddedFirst,
            Removed,
        }

        public int Count
        {
            get
            {
                lock (_lock)
                {
                    return _members.Count;
                }
            }
        }

        public AddResult Add(Member member)
        {
            lock (_lock)
            {
                if (_removed)
                {
                    return AddResult.Removed;
                }

                _members.Add(member);
                _snapshot = null;
                return _members.Count == 1 ? AddResult.AddedFirst : AddResult.Added;
            }
        }

        public bool Remove(Member member, out bool vacated)
        {
            lock (_lock)
            {
                vacated = false;
                if (!_members.Remove(member))
                {
                    return false;
                }

                _snapshot = null;
                if (_members.Count == 0)
                {
                    _removed = true;
                    vacated = true;
                }

                return true;
            }
        }

        public Member[] Members()
        {
            lock (_lock)
            {
                return [.. _members];
            }
        }

        public IOutboundSocket[] Snapshot()
        {
            var snapshot = _snapshot;
            if (snapshot is not null)
            {
                return snapshot;
            }

            lock (_lock)
            {
                return _snapshot ??= [.. _members.Select(static m => m.Socket)];
            }
        }
    }
}
