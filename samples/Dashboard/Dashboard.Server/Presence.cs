using Dashboard.Contracts;
using Ori.Sockets;
using Ori.Sockets.Routing;

namespace Dashboard.Server;

/// <summary>Who is online in each account, and with which status.</summary>
public sealed class PresenceService
{
    private readonly Lock _sync = new();
    private readonly Dictionary<string, Entry> _users = new(StringComparer.Ordinal);

    /// <summary>A socket of <paramref name="user"/> became ready; true when the user just came online.</summary>
    public bool Connect(DashboardUser user)
    {
        lock (_sync)
        {
            if (_users.TryGetValue(user.UserId, out var entry))
            {
                _users[user.UserId] = entry with { Sockets = entry.Sockets + 1 };
                return false;
            }

            _users[user.UserId] = new Entry(user.AccountId, "active", 1);
            return true;
        }
    }

    /// <summary>A socket of <paramref name="user"/> ended; true when it was the user's last.</summary>
    public bool Disconnect(DashboardUser user)
    {
        lock (_sync)
        {
            if (!_users.TryGetValue(user.UserId, out var entry))
            {
                return false;
            }

            if (entry.Sockets > 1)
            {
                _users[user.UserId] = entry with { Sockets = entry.Sockets - 1 };
                return false;
            }

            _users.Remove(user.UserId);
            return true;
        }
    }

    /// <summary>Sets a user's status.</summary>
    public void Set(DashboardUser user, string status)
    {
        lock (_sync)
        {
            _users[user.UserId] = _users.TryGetValue(user.UserId, out var entry) ? entry with { Status = status } : new Entry(user.AccountId, status, 0);
        }
    }

    /// <summary>The users online in an account, with their status.</summary>
    public IReadOnlyList<PresenceChanged> Online(string accountId)
    {
        lock (_sync)
        {
            return [.. _users.Where(u => u.Value.AccountId == accountId && u.Value.Sockets > 0).Select(u => new PresenceChanged(u.Key, u.Value.Status))];
        }
    }

    private sealed record Entry(string AccountId, string Status, int Sockets);
}

/// <summary>
/// Puts every ready socket in its account's room, tells the account when a user comes online or
/// goes offline, and tells the new socket who is already there.
/// </summary>
public sealed class PresenceTracker(PresenceService presence, ISocketEmitter emitter) : ISocketConnectionHandler
{
    /// <inheritdoc />
    public async ValueTask OnConnectedAsync(SocketContext context)
    {
        var user = context.GetState<DashboardUser>();
        await context.SubscribeAsync(Topics.Account(user.AccountId));
        foreach (var other in presence.Online(user.AccountId))
        {
            if (other.UserId != user.UserId)
            {
                await emitter.EmitToSocketAsync(context.SocketId, other);
            }
        }

        if (presence.Connect(user))
        {
            await emitter.EmitAsync(Topics.Account(user.AccountId), new PresenceChanged(user.UserId, "active"));
        }
    }

    /// <inheritdoc />
    public async ValueTask OnDisconnectedAsync(SocketContext context)
    {
        var user = context.GetState<DashboardUser>();
        if (presence.Disconnect(user))
        {
            await emitter.EmitAsync(Topics.Account(user.AccountId), new PresenceChanged(user.UserId, "offline"));
        }
    }
}
