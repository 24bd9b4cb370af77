namespace Ori.Sockets.Redis;

/// <summary>
/// Options of the Redis provider and the standalone emitter, bound from <c>Ori:Sockets:Redis</c>.
/// Every instance and emitter of one application must use the same <see cref="ChannelPrefix"/>.
/// </summary>
public sealed class OriSocketsRedisOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "Ori:Sockets:Redis";

    /// <summary>
    /// The StackExchange.Redis connection string (<c>host:port,password=…</c>). Not needed when an
    /// existing <c>IConnectionMultiplexer</c> is given to <c>AddRedis</c>.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// The prefix of every channel (<c>prefix:topic</c>): applications sharing a Redis keep apart by it.
    /// 1 to 64 characters of <c>A-Z a-z 0-9 _ . -</c>; default <c>ori</c>.
    /// </summary>
    public string ChannelPrefix { get; set; } = "ori";

    /// <summary>How long one connection attempt may take; default 5 seconds.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a publish may wait for Redis before it fails; default 5 seconds.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often subscriptions that failed are tried again; default 2 seconds.</summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(2);
}
