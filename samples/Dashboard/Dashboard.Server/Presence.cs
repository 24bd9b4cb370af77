using Dashboard.Contracts;
using Ori.Sockets;

namespace Dashboard.Server;

/// <summary>
/// The status each user chose (active, idle, away): in memory, or in Redis when the instances share one. Who is online
/// is not kept here: that is the library's presence of the account's room, right across instances and crashes.
/// </summary>
public interface IPresenceStore
{
    /// <summary>Sets a user's status.</summary>
    ValueTask SetAsync(DashboardUser user, string status);

    /// <summary>Forgets a user's status (the user went offline).</summary>
    ValueTask RemoveAsync(DashboardUser user);

    /// <summary>The statuses set in an account, by user id.</summary>
    ValueTask<IReadOnlyDictionary<string, string>> StatusesAsync(string accountId);
}

/// <summary>Statuses of one instance, in memory.</summary>
public sealed class InMemoryPresenceStore : IPresenceStore
{
    private readonly Lock _sync = new();
    private readonly Dictionary<string, (string AccountId, string Status)> _users = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public ValueTask SetAsync(DashboardUser user, string status)
    {
        lock (_sync)
        {
            _users[user.UserId] = (user.AccountId, status);
        }

        return default;
    }

    /// <inheritdoc />
    public ValueTask RemoveAsync(DashboardUser user)
    {
        lock (_sync)
        {
            _users.Remove(user.UserId);
        }

        return default;
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyDictionary<string, string>> StatusesAsync(string accountId)
    {
        lock (_sync)
        {
            return new(_users.Where(u => u.Value.AccountId == accountId).ToDictionary(u => u.Key, u => u.Value.Status, StringComparer.Ordinal));
        }
    }
}

/// <summary>
/// Puts every ready socket in its account's room and tells the new socket who is already there; tells the account when a
/// user comes online (their first socket joined) or goes offline (their last socket left, or the instance holding it
/// died), from the library's presence of the room.
/// </summary>
public sealed class PresenceTracker(ISocketPresence presence, IPresenceStore statuses, ISocketEmitter emitter) : ISocketConnectionHandler, ISocketPresenceHandler
{
    /// <summary>The users online in an account: their status and number of sockets, across every instance.</summary>
    public static async Task<IReadOnlyList<OnlineUser>> OnlineAsync(ISocketPresence presence, IPresenceStore statuses, string accountId)
    {
        var members = await presence.GetPresenceAsync(Topics.Account(accountId));
        var status = await statuses.StatusesAsync(accountId);
        return [.. members.Members.Where(m => m.UserId is not null).GroupBy(m => m.UserId!, StringComparer.Ordinal)
            .Select(g => new OnlineUser(g.Key, status.GetValueOrDefault(g.Key, "active"), g.Count()))
            .OrderBy(u => u.UserId, StringComparer.Ordinal)];
    }

    /// <inheritdoc />
    public async ValueTask OnConnectedAsync(SocketContext context)
    {
        var user = context.GetState<DashboardUser>();
        await context.SubscribeAsync(Topics.Account(user.AccountId));
        foreach (var other in await OnlineAsync(presence, statuses, user.AccountId))
        {
            if (other.UserId != user.UserId)
            {
                await emitter.EmitToSocketAsync(context.SocketId, new PresenceChanged(other.UserId, other.Status));
            }
        }
    }

    /// <inheritdoc />
    public ValueTask OnDisconnectedAsync(SocketContext context) => default;

    /// <inheritdoc />
    public async ValueTask OnPresenceChangedAsync(string topic, IReadOnlyList<SocketPresenceMember> joined, IReadOnlyList<SocketPresenceMember> left)
    {
        if (!topic.StartsWith("account:", StringComparison.Ordinal))
        {
            return;
        }

        var accountId = topic["account:".Length..];
        var now = (await presence.GetPresenceAsync(topic)).Members.Where(m => m.UserId is not null).GroupBy(m => m.UserId!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);

        // Came online: every socket the user has now joined in this batch (their first).
        foreach (var user in joined.Where(m => m.UserId is not null).GroupBy(m => m.UserId!, StringComparer.Ordinal))
        {
            if (now.GetValueOrDefault(user.Key) == user.Count())
            {
                var status = (await statuses.StatusesAsync(accountId)).GetValueOrDefault(user.Key, "active");
                await emitter.EmitAsync(topic, new PresenceChanged(user.Key, status));
            }
        }

        // Went offline: no socket left anywhere.
        foreach (var userId in left.Where(m => m.UserId is not null).Select(m => m.UserId!).Distinct(StringComparer.Ordinal))
        {
            if (!now.ContainsKey(userId))
            {
                await statuses.RemoveAsync(new DashboardUser(userId, accountId));
                await emitter.EmitAsync(topic, new PresenceChanged(userId, "offline"));
            }
        }
    }
}

/// <summary>A user who is online, as <c>GET /api/presence</c> lists them.</summary>
/// <param name="UserId">The user.</param>
/// <param name="Status">The status they chose (active when they chose none).</param>
/// <param name="Sockets">How many sockets they have open, on every instance.</param>
public sealed record OnlineUser(string UserId, string Status, int Sockets);
