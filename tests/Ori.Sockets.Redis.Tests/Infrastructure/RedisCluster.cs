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

    /// <summary>The node that owns a slot, as the first node sees it.</summary>
    public static async Task<string> OwnerAsync(long slot)
    {
        var shards = (object?[])(await RespClient.CommandAsync(Nodes[0], "CLUSTER", "SLOTS"))!;
        foreach (object?[] range in shards.Cast<object?[]>())
        {
            if ((long)range[0]! <= slot && slot <= (long)range[1]!)
            {
                var master = (object?[])range[2]!;
                return $"{master[0]}:{master[1]}";
            }
        }

        throw new InvalidOperationException($"No node owns slot {slot}.");
    }

    /// <summary>Moves a slot without keys from one node to another, telling every node (CLUSTER SETSLOT).</summary>
    public static async Task MoveSlotAsync(long slot, string from, string to)
    {
        var fromId = (string)(await RespClient.CommandAsync(from, "CLUSTER", "MYID"))!;
        var toId = (string)(await RespClient.CommandAsync(to, "CLUSTER", "MYID"))!;
        await RespClient.CommandAsync(to, "CLUSTER", "SETSLOT", slot, "IMPORTING", fromId);
        await RespClient.CommandAsync(from, "CLUSTER", "SETSLOT", slot, "MIGRATING", toId);
        await RespClient.CommandAsync(to, "CLUSTER", "SETSLOT", slot, "NODE", toId);
        await RespClient.CommandAsync(from, "CLUSTER", "SETSLOT", slot, "NODE", toId);
        foreach (var node in Nodes.Where(n => n != from && n != to))
        {
            await RespClient.CommandAsync(node, "CLUSTER", "SETSLOT", slot, "NODE", toId);
        }
    }

    /// <summary>
    /// Stops a node at once (SHUTDOWN NOSAVE), waits, and starts it again from its own directory (the one scripts/test.sh
    /// made: ORI_TEST_REDIS_CLUSTER_DIR/cluster{port}, with its cluster config and pid file), then waits until the cluster is ok.
    /// </summary>
    public static async Task RestartNodeAsync(string node, TimeSpan down)
    {
        var port = node.Split(':')[1];
        var folder = Path.Combine(
            Environment.GetEnvironmentVariable("ORI_TEST_REDIS_CLUSTER_DIR") ?? throw new InvalidOperationException("ORI_TEST_REDIS_CLUSTER_DIR is not set: run the suite with scripts/test.sh."),
            "cluster" + port);
        try
        {
            await RespClient.CommandAsync(node, "SHUTDOWN", "NOSAVE");
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            // The node closes the connection as it exits.
        }

        await Task.Delay(down);
        var start = new System.Diagnostics.ProcessStartInfo("redis-server") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in new[]
        {
            "--port", port, "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file", Path.Combine(folder, "nodes.conf"),
            "--cluster-node-timeout", "2000", "--daemonize", "yes", "--pidfile", Path.Combine(folder, "redis.pid"), "--dir", folder,
            "--save", "", "--appendonly", "no",
        })
        {
            start.ArgumentList.Add(argument);
        }

        using (var process = System.Diagnostics.Process.Start(start)!)
        {
            process.StandardInput.Close();
            await process.WaitForExitAsync();
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                var ok = true;
                foreach (var each in Nodes)
                {
                    ok &= ((string)(await RespClient.CommandAsync(each, "CLUSTER", "INFO"))!).Contains("cluster_state:ok", StringComparison.Ordinal);
                }

                if (ok)
                {
                    return;
                }
            }
            catch (Exception ex) when ((ex is IOException or System.Net.Sockets.SocketException) && DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The cluster did not become ok again within 30 s.");
            }

            await Task.Delay(100);
        }
    }
}
