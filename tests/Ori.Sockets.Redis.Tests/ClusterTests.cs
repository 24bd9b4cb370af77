using Ori.Sockets.Redis.Tests.Infrastructure;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Redis.Tests;

/// <summary>
/// Instances on the three-node Redis Cluster of scripts/test.sh: sharded pub/sub found by themselves, topics spread over
/// every shard, publishes, sends, broadcasts and disconnects across two and three instances.
/// </summary>
[Collection(nameof(ClusterTests))]
public sealed class ClusterTests : IAsyncLifetime
{
    private readonly string _prefix = "c" + Guid.NewGuid().ToString("N")[..10];
    private readonly List<Instance> _instances = [];

    public async ValueTask InitializeAsync()
    {
        for (var i = 0; i < 3; i++)
        {
            _instances.Add(await Instance.StartAsync(RedisCluster.ConnectionString, _prefix));
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var instance in _instances)
        {
            await instance.DisposeAsync();
        }
    }

    [Fact]
    public async Task Three_instances_exchange_publishes_sends_broadcasts_and_disconnects_over_sharded_pub_sub()
    {
        var (a, b, c) = (_instances[0], _instances[1], _instances[2]);
        Assert.All(_instances, i => Assert.True(i.Provider.Bus.Sharded, "an instance on a cluster did not choose sharded pub/sub"));

        // The count the gate after a reconnect waits for: SHARDNUMSUB of the control channel, on the node of its slot.
        await Eventually.TrueAsync(async () =>
        {
            await c.Provider.Bus.CountListenersAsync();
            return c.Provider.Bus.Listeners == 3;
        });
        var (onB, idB) = await b.JoinAsync("orders");
        var (onC, idC) = await c.JoinAsync("orders");
        await using (onB)
        await using (onC)
        {
            await a.Emitter.PublishAsync("orders", Notes.Push("published"));
            Assert.Equal("published", await Notes.TextAsync(onB));
            Assert.Equal("published", await Notes.TextAsync(onC));

            await a.Emitter.SendAsync(idC, Notes.Push("to-c"));
            Assert.Equal("to-c", await Notes.TextAsync(onC));

            await b.Emitter.BroadcastAsync(Notes.Push("everyone"), exceptSocketIds: [idB]);
            Assert.Equal("everyone", await Notes.TextAsync(onC));
            await onB.AssertSilentAsync(TimeSpan.FromMilliseconds(300));

            // No classic channel at all: every subscription is a shard channel, one per topic per instance.
            foreach (var node in RedisCluster.Nodes)
            {
                Assert.Empty(await RespClient.ChannelsAsync(node, $"{_prefix}:*"));
            }

            await a.Provider.DisconnectAsync(idB, TestContext.Current.CancellationToken);
            Assert.NotNull(await onB.WaitForCloseAsync());
        }
    }

    [Fact]
    public async Task Topics_spread_over_every_shard_and_each_is_delivered_from_another_instance()
    {
        var (a, b) = (_instances[0], _instances[1]);
        var topics = Enumerable.Range(0, 30).Select(i => $"room-{i}").ToArray();
        var (onB, _) = await b.ConnectAsync();
        await using (onB)
        {
            foreach (var topic in topics)
            {
                var reply = await onB.RequestAsync("room.join", new { room = topic }, topic);
                Assert.False(reply.TryGetProperty("error", out _), reply.ToString());
            }

            // Each node holds the topics whose slots it owns, and together they hold every one.
            var held = new List<string>();
            foreach (var node in RedisCluster.Nodes)
            {
                var channels = (await RedisCluster.ShardChannelsAsync(node, $"{_prefix}:room-*")).ToList();
                Assert.NotEmpty(channels);
                held.AddRange(channels);
            }

            Assert.Equal(topics.Select(t => $"{_prefix}:{t}").Order(StringComparer.Ordinal), held.Order(StringComparer.Ordinal));

            foreach (var topic in topics)
            {
                await a.Emitter.PublishAsync(topic, Notes.Push(topic));
            }

            var received = new HashSet<string>();
            for (var i = 0; i < topics.Length; i++)
            {
                received.Add(await Notes.TextAsync(onB));
            }

            Assert.Equal(topics.ToHashSet(), received);
        }
    }

    [Fact]
    public async Task A_topic_whose_slot_moves_to_another_node_is_delivered_again_within_seconds()
    {
        var (a, b) = (_instances[0], _instances[1]);
        var (onB, _) = await b.JoinAsync("moving");
        await using (onB)
        {
            await a.Emitter.PublishAsync("moving", Notes.Push("before"));
            Assert.Equal("before", await Notes.TextAsync(onB));

            // The slot of the topic's channel goes to another node (no keys live in it: channels are not keys).
            var channel = $"{_prefix}:moving";
            var slot = (long)(await RespClient.CommandAsync(RedisCluster.Nodes[0], "CLUSTER", "KEYSLOT", channel))!;
            var owner = await RedisCluster.OwnerAsync(slot);
            var target = RedisCluster.Nodes.First(n => n != owner);
            await RedisCluster.MoveSlotAsync(slot, owner, target);
            var since = DateTime.UtcNow;

            // Delivery resumes without a restart: the instance subscribes again on the slot's new owner.
            var received = await DeliverAsync(a, onB, "moving", "after");
            TestContext.Current.TestOutputHelper?.WriteLine($"delivery resumed {(DateTime.UtcNow - since).TotalMilliseconds:F0} ms after the slot moved");
            Assert.StartsWith("after-", received, StringComparison.Ordinal);
            Assert.Contains(channel, await WaitForChannelAsync(target, channel));
            Assert.Empty(await RedisCluster.ShardChannelsAsync(owner, channel));
        }
    }

    [Fact]
    public async Task A_node_stopped_and_started_again_gets_its_topics_back()
    {
        var (a, b) = (_instances[0], _instances[1]);
        var topics = Enumerable.Range(0, 12).Select(i => $"node-{i}").ToArray();
        var (onB, _) = await b.ConnectAsync();
        await using (onB)
        {
            foreach (var topic in topics)
            {
                await onB.RequestAsync("room.join", new { room = topic }, topic);
            }

            // The node that owns the first topic stops (its topics with it) and starts again from its cluster config.
            var channel = $"{_prefix}:{topics[0]}";
            var slot = (long)(await RespClient.CommandAsync(RedisCluster.Nodes[0], "CLUSTER", "KEYSLOT", channel))!;
            var node = await RedisCluster.OwnerAsync(slot);
            await RedisCluster.RestartNodeAsync(node, TimeSpan.FromSeconds(1));
            var since = DateTime.UtcNow;

            Assert.Equal("node-0-back-", (await DeliverAsync(a, onB, topics[0], "node-0-back"))[..12]);
            TestContext.Current.TestOutputHelper?.WriteLine($"delivery resumed {(DateTime.UtcNow - since).TotalMilliseconds:F0} ms after the node answered again");
            Assert.Contains(channel, await WaitForChannelAsync(node, channel));
        }
    }

    /// <summary>Publishes until the socket gets one (the first may fall in the moment a subscription is being made again).</summary>
    private static async Task<string> DeliverAsync(Instance from, TestClient to, string topic, string text)
    {
        var started = DateTime.UtcNow;
        for (var probe = 0; DateTime.UtcNow - started < TimeSpan.FromSeconds(20); probe++)
        {
            try
            {
                await from.Emitter.PublishAsync(topic, Notes.Push($"{text}-{probe}"));
                return await Notes.TextAsync(to, TimeSpan.FromMilliseconds(300));
            }
            catch (Exception ex) when (ex is OriSocketsRedisException or OperationCanceledException)
            {
            }
        }

        Assert.Fail($"nothing published on '{topic}' reached the socket within 20 s");
        return string.Empty;
    }

    private static async Task<string[]> WaitForChannelAsync(string node, string channel)
    {
        string[] channels = [];
        await Eventually.TrueAsync(async () => (channels = await RedisCluster.ShardChannelsAsync(node, channel)).Length > 0, TimeSpan.FromSeconds(20));
        return channels;
    }
}
