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

    /// <summary>
    /// How long a publish may take to reach Redis, waiting for it to come back included, and how long a subscription may
    /// take to be confirmed; default 5 seconds. A publish is reported failed after this time and a fifth more, and other
    /// instances drop a message that reaches them later than this time after it was published (so instances' clocks must
    /// agree within a fifth of it).
    /// </summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How many publishes may wait for Redis while it is unreachable; they go out in order when it is back (within
    /// <see cref="OperationTimeout"/>). Past this number a publish fails at once. Default 10,000; 0 makes every publish
    /// fail at once while Redis is unreachable.
    /// </summary>
    public int BacklogLimit { get; set; } = 10_000;

    /// <summary>
    /// How often an instance checks that its subscription connection still hears Redis: it publishes a probe on its
    /// control channel and waits for it to come back. A connection that stays connected but hears nothing twice in a
    /// row is closed at Redis (<c>CLIENT KILL</c>, which needs admin commands: on for the provider's own connection) and
    /// made again with every subscription. Default 15 seconds; zero turns the check off.
    /// </summary>
    public TimeSpan LivenessInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How often an instance tells Redis it is alive (and finds instances that are not): an instance that dies leaves
    /// presence within two of these. Default 5 seconds.
    /// </summary>
    public TimeSpan PresenceHeartbeat { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Whether members of topics are written to Redis, so that presence is cluster-wide (one <c>HSET</c> per join, one
    /// <c>HDEL</c> per leave). Off, the provider answers no presence. Default on.
    /// </summary>
    public bool Presence { get; set; } = true;

    /// <summary>How often subscriptions that failed are tried again; default 2 seconds.</summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Classic or sharded pub/sub. <see cref="RedisPubSubMode.Auto"/> (the default) uses sharded pub/sub on a Redis Cluster
    /// and classic pub/sub on a single Redis, found when the instance starts; every instance and emitter of an application
    /// must end up with the same mode, so on a cluster that may be unreachable when an instance starts, set
    /// <see cref="RedisPubSubMode.Sharded"/>.
    /// </summary>
    public RedisPubSubMode PubSub { get; set; } = RedisPubSubMode.Auto;
}

/// <summary>How the Redis provider uses Redis pub/sub.</summary>
public enum RedisPubSubMode
{
    /// <summary>Sharded on a Redis Cluster, classic on a single Redis (found at start).</summary>
    Auto,

    /// <summary><c>SUBSCRIBE</c>/<c>PUBLISH</c>: on a cluster every message goes to every node.</summary>
    Classic,

    /// <summary>
    /// <c>SSUBSCRIBE</c>/<c>SPUBLISH</c> (Redis 7): a topic's messages go only to the shard that owns its slot, so a cluster's
    /// pub/sub capacity grows with its shards. Works on a single Redis 7 too.
    /// </summary>
    Sharded,
}
