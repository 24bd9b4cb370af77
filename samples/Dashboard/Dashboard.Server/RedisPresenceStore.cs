using Dashboard.Contracts;
using Ori.Sockets;
using StackExchange.Redis;

namespace Dashboard.Server;

/// <summary>
/// Presence shared by every instance on one Redis: per account, a hash of socket counts and a hash
/// of statuses, so a user connected to any instance is online for all of them. While Redis is unreachable every call
/// throws <see cref="SocketUnavailableException"/> (a handler's caller is answered <c>unavailable</c>); counts changed
/// meanwhile are not made up later (the library's own presence, planned, replaces this store).
/// </summary>
/// <param name="redis">The application's multiplexer.</param>
/// <param name="prefix">Keeps apart applications sharing a Redis (the channel prefix).</param>
public sealed class RedisPresenceStore(IConnectionMultiplexer redis, string prefix) : IPresenceStore
{
    private IDatabase Db => redis.GetDatabase();

    private RedisKey Sockets(string accountId) => $"{prefix}:presence:sockets:{accountId}";

    private RedisKey Statuses(string accountId) => $"{prefix}:presence:status:{accountId}";

    /// <inheritdoc />
    public ValueTask<bool> ConnectAsync(DashboardUser user) => Guarded(ConnectCoreAsync(user));

    /// <inheritdoc />
    public ValueTask<bool> DisconnectAsync(DashboardUser user) => Guarded(DisconnectCoreAsync(user));

    /// <inheritdoc />
    public async ValueTask SetAsync(DashboardUser user, string status) => await Guarded(SetCoreAsync(user, status));

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<PresenceChanged>> OnlineAsync(string accountId) => Guarded(OnlineCoreAsync(accountId));

    private static async ValueTask<T> Guarded<T>(ValueTask<T> pending)
    {
        try
        {
            return await pending;
        }
        catch (RedisException ex)
        {
            throw new SocketUnavailableException("Presence is unavailable: Redis did not answer.", ex);
        }
    }

    private async ValueTask<bool> SetCoreAsync(DashboardUser user, string status) =>
        await Db.HashSetAsync(Statuses(user.AccountId), user.UserId, status);

    private async ValueTask<bool> ConnectCoreAsync(DashboardUser user)
    {
        var sockets = await Db.HashIncrementAsync(Sockets(user.AccountId), user.UserId, 1);
        if (sockets == 1)
        {
            await Db.HashSetAsync(Statuses(user.AccountId), user.UserId, "active");
            return true;
        }

        return false;
    }

    private async ValueTask<bool> DisconnectCoreAsync(DashboardUser user)
    {
        var sockets = await Db.HashDecrementAsync(Sockets(user.AccountId), user.UserId, 1);
        if (sockets > 0)
        {
            return false;
        }

        await Db.HashDeleteAsync(Sockets(user.AccountId), user.UserId);
        await Db.HashDeleteAsync(Statuses(user.AccountId), user.UserId);
        return true;
    }

    private async ValueTask<IReadOnlyList<PresenceChanged>> OnlineCoreAsync(string accountId)
    {
        var sockets = await Db.HashGetAllAsync(Sockets(accountId));
        var statuses = (await Db.HashGetAllAsync(Statuses(accountId))).ToDictionary(e => (string)e.Name!, e => (string)e.Value!, StringComparer.Ordinal);
        return [.. sockets.Where(e => (long)e.Value > 0).Select(e => new PresenceChanged((string)e.Name!, statuses.GetValueOrDefault((string)e.Name!, "active")))];
    }
}
