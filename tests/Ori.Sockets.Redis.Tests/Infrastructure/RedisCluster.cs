namespace Ori.Sockets.Redis.Tests.Infrastructure;

/// <summary>The three-node Redis Cluster scripts/test.sh starts (no replicas), given as ORI_TEST_REDIS_CLUSTER.</summary>
internal static class RedisCluster
{
    /// <summary>The nodes, <c>host:port</c> each.</summary>
    public static string[] Nodes =>
        Environment.GetEnvironmentVariable("ORI_TEST_REDIS_CLUSTER") is { Length: > 0 } nodes
            ? nodes.Split(',')
            : throw new InvalidOperationException("ORI_TEST_REDIS_CLUSTER is not set: run the suite with scripts/test.sh, which starts a three-node Redis Cluster.");

    /// <summary>The connection string of the cluster: every node.</summary>
    public static string ConnectionString => string.Join(',', Nodes);

    /// <summary>The sharded channels a node holds subscriptions for, matching <paramref name="pattern"/>.</summary>
    public static async Task<string[]> ShardChannelsAsync(string node, string pattern)
    {
        var reply = (object?[])(await RespClient.CommandAsync(node, "PUBSUB", "SHARDCHANNELS", pattern))!;
        return [.. reply.Select(c => (string)c!)];
    }
}
