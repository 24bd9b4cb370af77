using Dashboard.Contracts;
using StackExchange.Redis;

namespace Dashboard.Server;

/// <summary>
/// Presence shared by every instance on one Redis: per account, a hash of socket counts and a hash
/// of statuses, so a user connected to any instance is online for all of them.
/// </summary>
/// <param name="redis">The application's multiplexer.</param>
/// <param name="prefix">Keeps apart applications sharing a Redis (the channel prefix).</param>
public sealed class RedisPresenceStore(IConnectionMultiplexer redis, string prefix) : IPresenceStore
{
    private IDatabase Db => redis.GetDatabase();

    private RedisKey Sockets(string accountId) => $"{prefix}:presence:sockets:{accountId}";

    private RedisKey Statuses(string accountId) => $"{prefix}:presence:status:{accountId}";

    /// <inheritdoc />
    public async ValueTask<bool> ConnectAsync(DashboardUser user)
    {
        var sockets = await Db.HashIncrementAsync(Sockets(user.AccountId), user.UserId, 1);
        if (sockets == 1)
        {
            await Db.HashSetAsync(Statuses(user.AccountId), user.UserId, "active");
            return true;
        }

        return false;
    }

    /// <inheritdoc />
    public async ValueTask<bool> DisconnectAsync(DashboardUser user)
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

    /// <inheritdoc />
    public async ValueTask SetAsync(DashboardUser user, string status) =>
        await Db.HashSetAsync(Statuses(user.AccountId), user.UserId, status);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<PresenceChanged>> OnlineAsync(string accountId)
    {
        var sockets = await Db.HashGetAllAsync(Sockets(accountId));
        var statuses = (await Db.HashGetAllAsync(Statuses(accountId))).ToDictionary(e => (string)e.Name!, e => (string)e.Value!, StringComparer.Ordinal);
        return [.. sockets.Where(e => (long)e.Value > 0).Select(e => new PresenceChanged((string)e.Name!, statuses.GetValueOrDefault((string)e.Name!, "active")))];
    }
}
