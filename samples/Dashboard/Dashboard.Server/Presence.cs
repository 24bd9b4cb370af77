using Dashboard.Contracts;
using Ori.Sockets;

namespace Dashboard.Server;

/// <summary>Who is online in each account, and with which status: in memory, or in Redis when the instances share one.</summary>
public interface IPresenceStore
{
    /// <summary>A socket of <paramref name="user"/> became ready; true when the user just came online.</summary>
    ValueTask<bool> ConnectAsync(DashboardUser user);

    /// <summary>A socket of <paramref name="user"/> ended; true when it was the user's last.</summary>
    ValueTask<bool> DisconnectAsync(DashboardUser user);

    /// <summary>Sets a user's status.</summary>
    ValueTask SetAsync(DashboardUser user, string status);

    /// <summary>The users online in an account, with their status.</summary>
    ValueTask<IReadOnlyList<PresenceChanged>> OnlineAsync(string accountId);
}

/// <summary>Presence of one instance, in memory.</summary>
public sealed class InMemoryPresenceStore : IPresenceStore
{
    private readonly Lock _sync = new();
    private readonly Dictionary<string, Entry> _users = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public ValueTask<bool> ConnectAsync(DashboardUser user)
    {
        lock (_sync)
        {
            if (_users.TryGetValue(user.UserId, out var entry))
            {
                _users[user.UserId] = entry with { Sockets = entry.Sockets + 1 };
                return new(false);
            }

            _users[user.UserId] = new Entry(user.AccountId, "active", 1);
            return new(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> DisconnectAsync(DashboardUser user)
    {
        lock (_sync)
        {
            if (!_users.TryGetValue(user.UserId, out var entry))
            {
                return new(false);
            }

            if (entry.Sockets > 1)
            {
                _users[user.UserId] = entry with { Sockets = entry.Sockets - 1 };
                return new(false);
            }

            _users.Remove(user.UserId);
            return new(true);
        }
    }

    /// <inheritdoc />
    public ValueTask SetAsync(DashboardUser user, string status)
    {
        lock (_sync)
        {
            _users[user.UserId] = _users.TryGetValue(user.UserId, out var entry) ? entry with { Status = status } : new Entry(user.AccountId, status, 0);
        }

        return default;
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<PresenceChanged>> OnlineAsync(string accountId)
    {
        lock (_sync)
        {
            return new([.. _users.Where(u => u.Value.AccountId == accountId && u.Value.Sockets > 0).Select(u => new PresenceChanged(u.Key, u.Value.Status))]);
        }
    }

    private sealed record Entry(string AccountId, string Status, int Sockets);
}

/// <summary>
/// Puts every ready socket in its account's room, tells the account when a user comes online or
/// goes offline, and tells the new socket who is already there.
/// </summary>
public sealed class PresenceTracker(IPresenceStore presence, ISocketEmitter emitter) : ISocketConnectionHandler
{
    /// <inheritdoc />
    public async ValueTask OnConnectedAsync(SocketContext context)
    {
        var user = context.GetState<DashboardUser>();
        await context.SubscribeAsync(Topics.Account(user.AccountId));
        foreach (var other in await presence.OnlineAsync(user.AccountId))
        {
            if (other.UserId != user.UserId)
            {
                await emitter.EmitToSocketAsync(context.SocketId, other);
            }
        }

        if (await presence.ConnectAsync(user))
        {
            await emitter.EmitAsync(Topics.Account(user.AccountId), new PresenceChanged(user.UserId, "active"));
        }
    }

    /// <inheritdoc />
    public async ValueTask OnDisconnectedAsync(SocketContext context)
    {
        var user = context.GetState<DashboardUser>();
        if (await presence.DisconnectAsync(user))
        {
            await emitter.EmitAsync(Topics.Account(user.AccountId), new PresenceChanged(user.UserId, "offline"));
        }
    }
}
