using Ori.Sockets;
using StackExchange.Redis;

namespace Dashboard.Server;

/// <summary>
/// The statuses users chose, shared by every instance on one Redis: one hash per account. While Redis is unreachable every
/// call throws <see cref="SocketUnavailableException"/> (a handler's caller is answered <c>unavailable</c>).
/// </summary>
/// <param name="redis">The application's multiplexer.</param>
/// <param name="prefix">Keeps apart applications sharing a Redis (the channel prefix).</param>
public sealed class RedisPresenceStore(IConnectionMultiplexer redis, string prefix) : IPresenceStore
{
    private IDatabase Db => redis.GetDatabase();

    private RedisKey Statuses(string accountId) => $"{prefix}:status:{accountId}";

    /// <inheritdoc />
    public async ValueTask SetAsync(DashboardUser user, string status) => await Guarded(Db.HashSetAsync(Statuses(user.AccountId), user.UserId, status));

    /// <inheritdoc />
    public async ValueTask RemoveAsync(DashboardUser user) => await Guarded(Db.HashDeleteAsync(Statuses(user.AccountId), user.UserId));

    /// <inheritdoc />
    public async ValueTask<IReadOnlyDictionary<string, string>> StatusesAsync(string accountId) =>
        (await Guarded(Db.HashGetAllAsync(Statuses(accountId)))).ToDictionary(e => (string)e.Name!, e => (string)e.Value!, StringComparer.Ordinal);

    private static async Task<T> Guarded<T>(Task<T> pending)
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
}
