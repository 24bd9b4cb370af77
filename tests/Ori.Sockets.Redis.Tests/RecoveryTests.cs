using System.Text.Json;
using Ori.Sockets.Redis.Tests.Infrastructure;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Redis.Tests;

/// <summary>
/// Recoverable topics on Redis: offsets handed out once across instances, pushes in offset order on every instance,
/// and a client that recovers on another instance than the one it left.
/// </summary>
public sealed class RecoveryTests
{
    private readonly string _prefix = "h" + Guid.NewGuid().ToString("N")[..10];

    internal static Task<Instance> StartAsync(string redis, string prefix, int maxMessages = 100) =>
        Instance.StartAsync(redis, prefix, build: b => b.AddRecoverableTopics("feed*", maxMessages));

    internal static SocketFrame Numbered(int n) => SocketFrame.Text($$"""{"name":"note","data":{"n":{{n}}},"timestamp":1}""");

    internal static async Task<(int N, long Offset, string Epoch)> NextAsync(TestClient client, string topic = "feed")
    {
        var push = await client.ReceiveJsonAsync();
        Assert.Equal(topic, push.GetProperty("topic").GetString());
        return (push.GetProperty("data").GetProperty("n").GetInt32(), push.GetProperty("offset").GetInt64(), push.GetProperty("epoch").GetString()!);
    }

    internal static async Task<JsonElement> JoinAsync(TestClient client, string room, string? epoch = null, long offset = 0)
    {
        object data = epoch is null ? new { room } : new { room, recover = new { epoch, offset } };
        var reply = await client.RequestAsync("room.join", data, "j" + Guid.NewGuid().ToString("N")[..6]);
        Assert.False(reply.TryGetProperty("error", out _), reply.ToString());
        return reply.GetProperty("data");
    }

    [Fact]
    public async Task Instances_hand_out_each_offset_once_and_every_subscriber_gets_them_in_order()
    {
        await using var a = await StartAsync(RedisServer.Shared, _prefix);
        await using var b = await StartAsync(RedisServer.Shared, _prefix);
        await using var worker = new RedisSocketEmitter(new OriSocketsRedisOptions { ConnectionString = RedisServer.Shared, ChannelPrefix = _prefix })
            .AddRecoverableTopics("feed*");
        var (onA, _) = await a.ConnectAsync();
        var (onB, _) = await b.ConnectAsync();
        await using (onA)
        await using (onB)
        {
            var epoch = (await JoinAsync(onA, "feed")).GetProperty("epoch").GetString();
            Assert.Equal(epoch, (await JoinAsync(onB, "feed")).GetProperty("epoch").GetString());

            // Three publishers at once: both instances and a worker, 100 each.
            var publishers = new ISocketEmitter[] { a.Emitter, b.Emitter, worker };
            await Task.WhenAll(publishers.Select((emitter, p) => Task.Run(async () =>
            {
                for (var i = 0; i < 100; i++)
                {
                    await emitter.PublishAsync("feed", Numbered((p * 1000) + i), cancellationToken: TestContext.Current.CancellationToken);
                }
            })));

            foreach (var client in new[] { onA, onB })
            {
                var seen = new HashSet<int>();
                for (var offset = 1; offset <= 300; offset++)
                {
                    var (n, got, pushEpoch) = await NextAsync(client);
                    Assert.Equal((offset, epoch), (got, pushEpoch));
                    Assert.True(seen.Add(n), $"message {n} delivered twice");
                }

                await client.AssertSilentAsync(TimeSpan.FromMilliseconds(300));
            }
        }
    }

    [Fact]
    public async Task A_client_that_left_one_instance_recovers_what_it_missed_on_another()
    {
        await using var a = await StartAsync(RedisServer.Shared, _prefix);
        await using var b = await StartAsync(RedisServer.Shared, _prefix);
        string epoch;
        var (first, _) = await a.ConnectAsync();
        await using (first)
        {
            epoch = (await JoinAsync(first, "feed")).GetProperty("epoch").GetString()!;
            for (var n = 1; n <= 3; n++)
            {
                await a.Emitter.PublishAsync("feed", Numbered(n), cancellationToken: TestContext.Current.CancellationToken);
                Assert.Equal((n, n, epoch), await NextAsync(first));
            }
        }

        for (var n = 4; n <= 6; n++)
        {
            await a.Emitter.PublishAsync("feed", Numbered(n), cancellationToken: TestContext.Current.CancellationToken);
        }

        var (again, _) = await b.ConnectAsync();
        await using (again)
        {
            var reply = await JoinAsync(again, "feed", epoch, 3);
            Assert.True(reply.GetProperty("recovered").GetBoolean());
            Assert.Equal((6, epoch), (reply.GetProperty("offset").GetInt64(), reply.GetProperty("epoch").GetString()));
            await a.Emitter.PublishAsync("feed", Numbered(7), cancellationToken: TestContext.Current.CancellationToken);
            for (var n = 4; n <= 7; n++)
            {
                Assert.Equal((n, n, epoch), await NextAsync(again));
            }

            await again.AssertSilentAsync(TimeSpan.FromMilliseconds(300));
        }
    }

    [Fact]
    public async Task Joins_in_the_middle_of_a_steady_stream_get_every_push_after_their_position_once_and_in_order()
    {
        await using var a = await StartAsync(RedisServer.Shared, _prefix, maxMessages: 1000);
        await using var b = await StartAsync(RedisServer.Shared, _prefix, maxMessages: 1000);
        var (watcher, _) = await b.ConnectAsync();
        await using var _ = watcher;
        var epoch = (await JoinAsync(watcher, "feed")).GetProperty("epoch").GetString()!;
        const int total = 400;
        var published = 0;
        var stream = Task.Run(async () =>
        {
            for (var n = 1; n <= total; n++)
            {
                await a.Emitter.PublishAsync("feed", Numbered(n), cancellationToken: TestContext.Current.CancellationToken);
                Volatile.Write(ref published, n);
            }
        });

        // While it runs, clients join on both instances: some from an older position, some without one.
        var joiners = new List<(TestClient Client, long From)>();
        for (var i = 0; i < 12; i++)
        {
            var (client, _) = await (i % 2 == 0 ? a : b).ConnectAsync();
            // A position some way behind what was published so far (never ahead of it: that is not recoverable).
            var from = i % 3 == 0 ? (long?)null : Math.Max(0, Volatile.Read(ref published) - (i * 5));
            var reply = await JoinAsync(client, "feed", from is null ? null : epoch, from ?? 0);
            Assert.Equal(from is not null, reply.GetProperty("recovered").GetBoolean());
            joiners.Add((client, from ?? reply.GetProperty("offset").GetInt64()));
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        await stream;
        foreach (var (client, from) in joiners)
        {
            await using (client)
            {
                for (var offset = from + 1; offset <= total; offset++)
                {
                    var (n, got, pushEpoch) = await NextAsync(client);
                    Assert.Equal((offset, offset, epoch), (n, got, pushEpoch));
                }

                await client.AssertSilentAsync(TimeSpan.FromMilliseconds(200));
            }
        }
    }

    [Fact]
    public async Task A_position_older_than_the_history_or_of_a_lost_history_is_not_recovered_and_nothing_old_is_sent()
    {
        await using var a = await StartAsync(RedisServer.Shared, _prefix, maxMessages: 2);
        var (client, _) = await a.ConnectAsync();
        await using var _ = client;
        var epoch = (await JoinAsync(client, "feed-x")).GetProperty("epoch").GetString()!;
        await client.RequestAsync("room.leave", new { room = "feed-x" }, "l");
        for (var n = 1; n <= 5; n++)
        {
            await a.Emitter.PublishAsync("feed-x", Numbered(n), cancellationToken: TestContext.Current.CancellationToken);
        }

        // Offset 1 is older than the two kept (4, 5); offset 3 is just recoverable.
        var old = await JoinAsync(client, "feed-x", epoch, 1);
        Assert.False(old.GetProperty("recovered").GetBoolean());
        Assert.Equal(5, old.GetProperty("offset").GetInt64());
        await client.AssertSilentAsync(TimeSpan.FromMilliseconds(300));
        await client.RequestAsync("room.leave", new { room = "feed-x" }, "l2");
        var near = await JoinAsync(client, "feed-x", epoch, 3);
        Assert.True(near.GetProperty("recovered").GetBoolean());
        Assert.Equal((4, 4L, epoch), await NextAsync(client, "feed-x"));
        Assert.Equal((5, 5L, epoch), await NextAsync(client, "feed-x"));
        await client.RequestAsync("room.leave", new { room = "feed-x" }, "l3");

        // The history is lost (flushed, evicted, a Redis without persistence restarted): a new epoch, honestly.
        await RespClient.CommandAsync(RedisServer.Shared, "DEL", $"{{{_prefix}:feed-x}}:position", $"{{{_prefix}:feed-x}}:history");
        await a.Emitter.PublishAsync("feed-x", Numbered(6), cancellationToken: TestContext.Current.CancellationToken);
        var lost = await JoinAsync(client, "feed-x", epoch, 5);
        Assert.False(lost.GetProperty("recovered").GetBoolean());
        Assert.NotEqual(epoch, lost.GetProperty("epoch").GetString());
        Assert.Equal(1, lost.GetProperty("offset").GetInt64());
        await client.AssertSilentAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task Without_Redis_a_recoverable_join_is_unavailable_and_a_publish_fails_reaching_no_socket()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await Instance.StartAsync(redis.Endpoint, _prefix, o => o.OperationTimeout = TimeSpan.FromSeconds(1), build: b => b.AddRecoverableTopics("feed*"));
        var (client, _) = await a.ConnectAsync();
        await using var _ = client;
        await JoinAsync(client, "feed");
        await redis.StopAsync();

        var failed = await Assert.ThrowsAsync<OriSocketsRedisException>(async () => await a.Emitter.PublishAsync("feed", Numbered(1), cancellationToken: TestContext.Current.CancellationToken));
        Assert.False(failed.MayHaveReachedOtherInstances);
        await client.AssertSilentAsync(TimeSpan.FromMilliseconds(500));

        var (other, _) = await a.ConnectAsync();
        await using (other)
        {
            var reply = await other.RequestAsync("room.join", new { room = "feed-2" }, "j");
            Assert.Equal("unavailable", reply.GetProperty("error").GetString());
        }

        // Back (an empty Redis: a new epoch); once this instance's subscriptions are made again, publishes reach it.
        await redis.StartAgainAsync();
        await Eventually.TrueAsync(async () => await a.Provider.Bus.ProbeAsync() == true, TimeSpan.FromSeconds(20));
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                await a.Emitter.PublishAsync("feed", Numbered(2), cancellationToken: TestContext.Current.CancellationToken);
                return true;
            }
            catch (OriSocketsRedisException)
            {
                return false;
            }
        });
        var (n, offset, _) = await NextAsync(client);
        Assert.Equal(2, n);
        Assert.True(offset >= 1);
    }

    [Fact]
    public async Task Recovering_many_missed_pushes_delivers_them_all_in_order_and_reports_the_time_it_took()
    {
        await using var a = await StartAsync(RedisServer.Shared, _prefix, maxMessages: 1000);
        await using var b = await StartAsync(RedisServer.Shared, _prefix, maxMessages: 1000);
        var timings = new List<string>();
        foreach (var missed in new[] { 10, 100, 1000 })
        {
            var topic = $"feed-{missed}";
            var (first, _) = await a.ConnectAsync();
            string epoch;
            await using (first)
            {
                epoch = (await JoinAsync(first, topic)).GetProperty("epoch").GetString()!;
            }

            for (var n = 1; n <= missed; n++)
            {
                await a.Emitter.PublishAsync(topic, Numbered(n), cancellationToken: TestContext.Current.CancellationToken);
            }

            var (again, _) = await b.ConnectAsync();
            await using (again)
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var reply = await JoinAsync(again, topic, epoch, 0);
                var replied = clock.Elapsed;
                Assert.True(reply.GetProperty("recovered").GetBoolean());
                for (var n = 1; n <= missed; n++)
                {
                    Assert.Equal((n, n, epoch), await NextAsync(again, topic));
                }

                timings.Add($"{missed} missed: reply {replied.TotalMilliseconds:F1} ms, last of them {clock.Elapsed.TotalMilliseconds:F1} ms");
            }
        }

        TestContext.Current.TestOutputHelper?.WriteLine("recovery on another instance through Redis: " + string.Join("; ", timings));
    }

    [Fact]
    public async Task A_recoverable_publish_is_one_script_call_and_its_cost_in_Redis_is_reported()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await Instance.StartAsync(redis.Endpoint, _prefix, o => o.Presence = false, build: b => b.AddRecoverableTopics("feed*"));
        var (client, _) = await a.ConnectAsync();
        await using var _ = client;
        await JoinAsync(client, "feed");
        await JoinAsync(client, "plain");
        const int n = 1000;

        async Task<(Dictionary<string, long> Calls, long In, long Out)> StatsAsync()
        {
            var commands = (string)(await RespClient.CommandAsync(redis.Endpoint, "INFO", "commandstats"))!;
            var calls = commands.Split('\n').Where(l => l.StartsWith("cmdstat_", StringComparison.Ordinal))
                .ToDictionary(l => l[8..l.IndexOf(':', StringComparison.Ordinal)], l => long.Parse(l.Split("calls=")[1].Split(',')[0], System.Globalization.CultureInfo.InvariantCulture));
            var stats = (string)(await RespClient.CommandAsync(redis.Endpoint, "INFO", "stats"))!;
            long Stat(string name) => long.Parse(stats.Split('\n').First(l => l.StartsWith(name + ":", StringComparison.Ordinal)).Split(':')[1].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            return (calls, Stat("total_net_input_bytes"), Stat("total_net_output_bytes"));
        }

        async Task<(Dictionary<string, long> Calls, double In, double Out)> MeasureAsync(string topic)
        {
            await RespClient.CommandAsync(redis.Endpoint, "CONFIG", "RESETSTAT");
            var before = await StatsAsync();
            for (var i = 1; i <= n; i++)
            {
                await a.Emitter.PublishAsync(topic, Numbered(i), cancellationToken: TestContext.Current.CancellationToken);
            }

            for (var i = 1; i <= n; i++)
            {
                await client.ReceiveJsonAsync();
            }

            var after = await StatsAsync();
            return (after.Calls, (after.In - before.In) / (double)n, (after.Out - before.Out) / (double)n);
        }

        var recoverable = await MeasureAsync("feed");
        var plain = await MeasureAsync("plain");

        // One script per publish; inside it one XADD and one PUBLISH (and TIME, HGET, HINCRBY, XTRIM, two PEXPIREs).
        Assert.Equal(n, recoverable.Calls.GetValueOrDefault("xadd"));
        Assert.Equal(n, recoverable.Calls.GetValueOrDefault("evalsha") + recoverable.Calls.GetValueOrDefault("eval"));
        Assert.Equal(n, recoverable.Calls.GetValueOrDefault("publish"));
        Assert.Equal(n, plain.Calls.GetValueOrDefault("publish"));
        Assert.False(plain.Calls.ContainsKey("xadd"));
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"per publish of a ~60-byte push: recoverable {string.Join(", ", recoverable.Calls.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value / (double)n:0.##}"))}; " +
            $"bytes into Redis {recoverable.In:F0}, out of Redis {recoverable.Out:F0} | plain: {string.Join(", ", plain.Calls.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value / (double)n:0.##}"))}; bytes in {plain.In:F0}, out {plain.Out:F0}");
    }
}

/// <summary>
/// Recoverable topics on the three-node Redis Cluster: history keys and channel in one slot, on every shard. In the
/// cluster tests' collection: they stop nodes and move slots of the same cluster, which a history read must not run into.
/// </summary>
[Collection(nameof(ClusterTests))]
public sealed class ClusterRecoveryTests
{
    private readonly string _prefix = "k" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task Topics_on_every_shard_keep_their_histories_and_recover_on_another_instance()
    {
        var instances = new List<Instance>();
        for (var i = 0; i < 3; i++)
        {
            instances.Add(await RecoveryTests.StartAsync(RedisCluster.ConnectionString, _prefix));
        }

        try
        {
            Assert.All(instances, i => Assert.True(i.Provider.Bus.Sharded));
            var topics = Enumerable.Range(0, 6).Select(i => $"feed-{i}").ToArray();
            var owners = new HashSet<string>();
            foreach (var topic in topics)
            {
                owners.Add(await RedisCluster.OwnerAsync(await RespClient.CommandAsync(RedisCluster.Nodes[0], "CLUSTER", "KEYSLOT", $"{_prefix}:{topic}") is long slot ? slot : -1));
            }

            Assert.True(owners.Count >= 2, "the topics should spread over more than one shard");
            for (var t = 0; t < topics.Length; t++)
            {
                var topic = topics[t];
                var (first, _) = await instances[t % 3].ConnectAsync();
                string epoch;
                await using (first)
                {
                    epoch = (await RecoveryTests.JoinAsync(first, topic)).GetProperty("epoch").GetString()!;
                    for (var n = 1; n <= 5; n++)
                    {
                        await instances[(t + 1) % 3].Emitter.PublishAsync(topic, RecoveryTests.Numbered(n), cancellationToken: TestContext.Current.CancellationToken);
                        Assert.Equal((n, n, epoch), await RecoveryTests.NextAsync(first, topic));
                    }
                }

                for (var n = 6; n <= 8; n++)
                {
                    await instances[(t + 1) % 3].Emitter.PublishAsync(topic, RecoveryTests.Numbered(n), cancellationToken: TestContext.Current.CancellationToken);
                }

                var (again, _) = await instances[(t + 2) % 3].ConnectAsync();
                await using (again)
                {
                    var reply = await RecoveryTests.JoinAsync(again, topic, epoch, 5);
                    Assert.True(reply.GetProperty("recovered").GetBoolean(), reply.ToString());
                    for (var n = 6; n <= 8; n++)
                    {
                        Assert.Equal((n, n, epoch), await RecoveryTests.NextAsync(again, topic));
                    }
                }
            }
        }
        finally
        {
            foreach (var instance in instances)
            {
                await instance.DisposeAsync();
            }
        }
    }
}
