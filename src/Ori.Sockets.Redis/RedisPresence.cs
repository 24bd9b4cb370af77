using System.Globalization;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Ori.Sockets.Redis;

/// <summary>
/// Presence across instances, and what keeps it right when an instance dies. Keys (single-key commands only, so a
/// cluster spreads them):
/// <list type="bullet">
/// <item><c>prefix:presence:{topic}</c>, a hash: socket id → <c>instance|since|userId</c>, written by the socket's instance
/// as it joins (<c>HSET</c>) and leaves (<c>HDEL</c>), without waiting.</item>
/// <item><c>prefix:alive:{instance}</c>: the instance's connection count, set every heartbeat with an expiry of two
/// heartbeats. An instance whose key has expired is dead: its entries are left out of every read.</item>
/// <item><c>prefix:instances</c> (a set) and <c>prefix:topics:{instance}</c> (the topics it wrote entries in): the heartbeat
/// of any living instance finds a dead one, takes the job (<c>SET NX</c>), removes its entries and reports its members
/// as left (so <c>ori.presence</c> pushes tell the rooms), then forgets it.</item>
/// </list>
/// Cost: a join is one <c>HSET</c> (and one <c>SADD</c>), a leave one <c>HDEL</c>; a heartbeat two commands and one
/// <c>EXISTS</c> per other instance; a read one <c>HGETALL</c> and one <c>EXISTS</c> per other instance in it.
/// </summary>
internal sealed class RedisPresence : IAsyncDisposable
{
    private readonly RedisBus _bus;
    private readonly SocketHub _hub;
    private readonly TimeSpan _heartbeat;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly bool _tracking;
    private ITimer? _timer;
    private int _beating;

    public RedisPresence(RedisBus bus, SocketHub hub, TimeSpan heartbeat, bool tracking, TimeProvider time, ILogger logger)
    {
        _tracking = tracking;
        _bus = bus;
        _hub = hub;
        _heartbeat = heartbeat;
        _time = time;
        _logger = logger;
    }

    private IDatabase Db => (_bus.Multiplexer ?? throw new InvalidOperationException("The Redis provider has not started.")).GetDatabase();

    private RedisKey Alive(string instance) => _bus.Prefix + "alive:" + instance;

    private RedisKey Instances => _bus.Prefix + "instances";

    private RedisKey TopicsOf(string instance) => _bus.Prefix + "topics:" + instance;

    private RedisKey Presence(string topic) => _bus.Prefix + "presence:" + topic;

    private RedisKey UserSockets(string userId) => _bus.Prefix + "user:" + userId;

    private RedisKey UsersOf(string instance) => _bus.Prefix + "users:" + instance;

    /// <summary>Whether members are written to Redis (option <c>Presence</c>).</summary>
    public bool IsTracking => _tracking;

    public void Start()
    {
        if (_tracking)
        {
            _hub.MembershipChanged += OnMembershipChanged;
            _hub.UserSocketChanged += OnUserSocketChanged;
        }

        _timer = _time.CreateTimer(static state => _ = ((RedisPresence)state!).BeatAsync(), this, TimeSpan.Zero, _heartbeat);
    }

    /// <summary>Every member of a topic: this instance's from its hub, the others' from Redis, dead instances left out.</summary>
    public async ValueTask<SocketPresence> GetAsync(string topic)
    {
        var members = new List<SocketPresenceMember>(_hub.GetMembers(topic));
        members.AddRange(await LivingAsync(await Db.HashGetAllAsync(Presence(topic)).ConfigureAwait(false)).ConfigureAwait(false));
        members.Sort(static (a, b) => a.Since.CompareTo(b.Since));
        return new SocketPresence(topic, members);
    }

    /// <summary>A user's sockets: this instance's from its hub, the others' from Redis, dead instances left out.</summary>
    public async Task<IReadOnlyList<SocketPresenceMember>> UserSocketsAsync(string userId)
    {
        var sockets = new List<SocketPresenceMember>(_hub.GetUserSocketMembers(userId));
        sockets.AddRange(await LivingAsync(await Db.HashGetAllAsync(UserSockets(userId)).ConfigureAwait(false)).ConfigureAwait(false));
        sockets.Sort(static (a, b) => a.Since.CompareTo(b.Since));
        return sockets;
    }

    /// <summary>The entries of other instances that are alive (one <c>EXISTS</c> per instance).</summary>
    private async Task<List<SocketPresenceMember>> LivingAsync(HashEntry[] entries)
    {
        var byInstance = new Dictionary<string, List<SocketPresenceMember>>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (TryParse(entry.Name!, entry.Value!, out var instance, out var member) && instance != _bus.Origin)
            {
                if (!byInstance.TryGetValue(instance, out var list))
                {
                    byInstance[instance] = list = [];
                }

                list.Add(member);
            }
        }

        // Asked together: the multiplexer pipelines them, one round trip whatever the number of instances.
        var db = Db;
        var alive = await Task.WhenAll(byInstance.Keys.Select(instance => db.KeyExistsAsync(Alive(instance)))).ConfigureAwait(false);
        return [.. byInstance.Values.Where((_, i) => alive[i]).SelectMany(members => members)];
    }

    /// <summary>Each living instance's connection count (this one's from its hub, the others' from their last heartbeat).</summary>
    public async Task<SocketConnectionCounts> CountsAsync()
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal) { [_bus.Origin] = _hub.ConnectionCount };
        foreach (var instance in await Db.SetMembersAsync(Instances).ConfigureAwait(false))
        {
            var id = (string)instance!;
            if (id != _bus.Origin && await Db.StringGetAsync(Alive(id)).ConfigureAwait(false) is { HasValue: true } value && int.TryParse((string?)value, NumberStyles.None, CultureInfo.InvariantCulture, out var count))
            {
                counts[id] = count;
            }
        }

        return new SocketConnectionCounts(counts);
    }

    public async ValueTask DisposeAsync()
    {
        _hub.MembershipChanged -= OnMembershipChanged;
        _hub.UserSocketChanged -= OnUserSocketChanged;
        if (_timer is not null)
        {
            await _timer.DisposeAsync().ConfigureAwait(false);
        }

        try
        {
            // A clean stop: the sockets have left (their entries with them); the instance says it is gone.
            await Db.KeyDeleteAsync(Alive(_bus.Origin)).ConfigureAwait(false);
            await Db.KeyDeleteAsync(TopicsOf(_bus.Origin)).ConfigureAwait(false);
            await Db.KeyDeleteAsync(UsersOf(_bus.Origin)).ConfigureAwait(false);
            await Db.SetRemoveAsync(Instances, _bus.Origin).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or InvalidOperationException)
        {
            // Redis is away: the key expires and the others clean up after this instance.
        }
    }

    private void OnMembershipChanged(string topic, SocketPresenceMember member, bool joined) =>
        Write(Presence(topic), TopicsOf(_bus.Origin), topic, member, joined);

    private void OnUserSocketChanged(SocketPresenceMember socket, bool connected)
    {
        if (socket.UserId is { } userId)
        {
            Write(UserSockets(userId), UsersOf(_bus.Origin), userId, socket, connected);
        }
    }

    /// <summary>
    /// Adds a socket to a hash of members (and the hash's name to this instance's index, for whoever cleans up after it)
    /// or removes it, without waiting.
    /// </summary>
    private void Write(RedisKey members, RedisKey index, string name, SocketPresenceMember member, bool added)
    {
        if (_bus.Multiplexer is null)
        {
            return;
        }

        try
        {
            var db = Db;
            if (added)
            {
                var since = member.Since.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
                db.HashSet(members, member.SocketId, $"{_bus.Origin}|{since}|{member.UserId}", flags: CommandFlags.FireAndForget);
                db.SetAdd(index, name, CommandFlags.FireAndForget);
            }
            else
            {
                db.HashDelete(members, member.SocketId, CommandFlags.FireAndForget);
            }
        }
        catch (RedisException)
        {
            // Redis is away: the heartbeat after it is back writes this instance's entries again.
        }
    }

    private async Task BeatAsync()
    {
        if (Interlocked.Exchange(ref _beating, 1) == 1)
        {
            // The previous beat still runs (Redis is slow): this one is skipped.
            return;
        }

        if (_bus.Multiplexer is not { IsConnected: true })
        {
            Volatile.Write(ref _beating, 0);
            return;
        }

        try
        {
            var db = Db;
            var expiry = _heartbeat * 2;
            var wasAlive = await db.KeyExistsAsync(Alive(_bus.Origin)).ConfigureAwait(false);
            await db.StringSetAsync(Alive(_bus.Origin), _hub.ConnectionCount, expiry).ConfigureAwait(false);
            await db.SetAddAsync(Instances, _bus.Origin).ConfigureAwait(false);
            if (!wasAlive && _tracking)
            {
                // First beat, or Redis lost this instance's key (an outage, a restart): write its members again.
                await RewriteAsync(db).ConfigureAwait(false);
            }

            foreach (var instance in await db.SetMembersAsync(Instances).ConfigureAwait(false))
            {
                var id = (string)instance!;
                if (id != _bus.Origin && !await db.KeyExistsAsync(Alive(id)).ConfigureAwait(false)
                    && await db.StringSetAsync(_bus.Prefix + "reap:" + id, _bus.Origin, TimeSpan.FromMinutes(1), When.NotExists).ConfigureAwait(false))
                {
                    await ReapAsync(db, id).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            RedisLog.PresenceBeatFailed(_logger, ex.Message);
        }
        finally
        {
            Volatile.Write(ref _beating, 0);
        }
    }

    /// <summary>Writes every local member again and removes this instance's entries of sockets that are gone.</summary>
    private async Task RewriteAsync(IDatabase db)
    {
        foreach (var topic in _hub.GetSubscriberCounts().Keys)
        {
            var local = _hub.GetMembers(topic);
            var ids = local.Select(m => m.SocketId).ToHashSet(StringComparer.Ordinal);
            foreach (var entry in await db.HashGetAllAsync(Presence(topic)).ConfigureAwait(false))
            {
                if (TryParse(entry.Name!, entry.Value!, out var instance, out var member) && instance == _bus.Origin && !ids.Contains(member.SocketId))
                {
                    await db.HashDeleteAsync(Presence(topic), member.SocketId).ConfigureAwait(false);
                }
            }

            foreach (var member in local)
            {
                OnMembershipChanged(topic, member, joined: true);
            }
        }

        // The sockets of users: written again (entries of sockets gone meanwhile expire with nothing; reads keep only
        // the sockets of living instances, and this instance's from its hub).
        foreach (var userId in await db.SetMembersAsync(UsersOf(_bus.Origin)).ConfigureAwait(false))
        {
            foreach (var entry in await db.HashGetAllAsync(UserSockets((string)userId!)).ConfigureAwait(false))
            {
                if (TryParse(entry.Name!, entry.Value!, out var instance, out var socket) && instance == _bus.Origin && !_hub.Contains(socket.SocketId))
                {
                    await db.HashDeleteAsync(UserSockets((string)userId!), entry.Name).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>A dead instance's members leave every topic they were in; then the instance is forgotten.</summary>
    private async Task ReapAsync(IDatabase db, string dead)
    {
        var departed = 0;
        foreach (var topicValue in await db.SetMembersAsync(TopicsOf(dead)).ConfigureAwait(false))
        {
            var topic = (string)topicValue!;
            foreach (var entry in await db.HashGetAllAsync(Presence(topic)).ConfigureAwait(false))
            {
                if (TryParse(entry.Name!, entry.Value!, out var instance, out var member) && instance == dead
                    && await db.HashDeleteAsync(Presence(topic), member.SocketId).ConfigureAwait(false))
                {
                    departed++;
                    _hub.ReportDeparted(topic, member);
                }
            }
        }

        foreach (var userValue in await db.SetMembersAsync(UsersOf(dead)).ConfigureAwait(false))
        {
            var userId = (string)userValue!;
            foreach (var entry in await db.HashGetAllAsync(UserSockets(userId)).ConfigureAwait(false))
            {
                if (TryParse(entry.Name!, entry.Value!, out var instance, out _) && instance == dead)
                {
                    await db.HashDeleteAsync(UserSockets(userId), entry.Name).ConfigureAwait(false);
                }
            }
        }

        await db.KeyDeleteAsync(TopicsOf(dead)).ConfigureAwait(false);
        await db.KeyDeleteAsync(UsersOf(dead)).ConfigureAwait(false);
        await db.SetRemoveAsync(Instances, dead).ConfigureAwait(false);
        RedisLog.InstanceReaped(_logger, dead, departed);
    }

    private static bool TryParse(string socketId, string value, out string instance, out SocketPresenceMember member)
    {
        instance = string.Empty;
        member = null!;
        var first = value.IndexOf('|', StringComparison.Ordinal);
        var second = first < 0 ? -1 : value.IndexOf('|', first + 1);
        if (second < 0 || !long.TryParse(value.AsSpan(first + 1, second - first - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var since))
        {
            return false;
        }

        instance = value[..first];
        var userId = value[(second + 1)..];
        member = new SocketPresenceMember(socketId, userId.Length == 0 ? null : userId, DateTimeOffset.FromUnixTimeMilliseconds(since));
        return true;
    }
}
