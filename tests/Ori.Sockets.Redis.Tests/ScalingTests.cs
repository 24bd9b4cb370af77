using System.Text.Json;
using Ori.Sockets.Redis.Tests.Infrastructure;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Redis.Tests;

/// <summary>Two or three instances on one real redis-server behave as one application.</summary>
public sealed class ScalingTests : IAsyncLifetime
{
    private static readonly TimeSpan s_quiet = TimeSpan.FromMilliseconds(300);
    private readonly string _prefix = "t" + Guid.NewGuid().ToString("N")[..10];
    private Instance _a = null!;
    private Instance _b = null!;

    private static string Redis => RedisServer.Shared;

    public async ValueTask InitializeAsync()
    {
        _a = await Instance.StartAsync(Redis, _prefix);
        _b = await Instance.StartAsync(Redis, _prefix);
    }

    public async ValueTask DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    private static async Task<string> PayloadAsync(TestClient client)
    {
        var message = await client.ReceiveJsonAsync();
        return message.GetProperty("data").GetProperty("text").GetString()!;
    }

    private static SocketFrame Push(string text) =>
        SocketFrame.Text(JsonSerializer.Serialize(new { name = "note", data = new { text }, timestamp = 1 }));

    [Fact]
    public async Task A_publish_reaches_subscribers_on_every_instance_exactly_once()
    {
        var (onA, _) = await _a.JoinAsync("news");
        var (onB, _) = await _b.JoinAsync("news");
        await using (onA)
        await using (onB)
        {
            await _a.Emitter.PublishAsync("news", Push("hello"));

            Assert.Equal("hello", await PayloadAsync(onA));
            Assert.Equal("hello", await PayloadAsync(onB));
            // Local sockets got their copy from the hub; the echo of A's own publish from Redis was skipped.
            await onA.AssertSilentAsync(s_quiet);
            await onB.AssertSilentAsync(s_quiet);
            Assert.True(_a.Counters.OwnSkippedCount >= 1);
            Assert.Equal(1, _b.Counters.ReceivedCount);
        }
    }

    [Fact]
    public async Task One_redis_subscription_per_topic_per_instance_whatever_the_local_subscribers()
    {
        var clients = new List<TestClient>();
        for (var i = 0; i < 20; i++)
        {
            clients.Add((await _a.JoinAsync("crowd")).Client);
        }

        clients.Add((await _b.JoinAsync("crowd")).Client);
        var channel = $"{_prefix}:crowd";
        Assert.Equal(2, await RespClient.NumSubAsync(Redis, channel));
        Assert.Contains(channel, await RespClient.ChannelsAsync(Redis, $"{_prefix}:*"));

        // Nineteen of A's twenty leave: A keeps its one subscription.
        foreach (var client in clients.Take(19))
        {
            await client.RequestAsync("room.leave", new { room = "crowd" }, "l");
        }

        Assert.Equal(2, await RespClient.NumSubAsync(Redis, channel));

        // The last local subscriber closes its socket: A drops the topic; B still holds it.
        await clients[19].DisposeAsync();
        await Eventually.TrueAsync(() => RespClient.NumSubAsync(Redis, channel).GetAwaiter().GetResult() == 1);
        Assert.DoesNotContain("crowd", _a.Provider.RedisTopics);

        await clients[20].DisposeAsync();
        await Eventually.TrueAsync(() => RespClient.NumSubAsync(Redis, channel).GetAwaiter().GetResult() == 0);
        Assert.DoesNotContain(channel, await RespClient.ChannelsAsync(Redis, $"{_prefix}:*"));
        foreach (var client in clients.Take(19))
        {
            await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task Fast_subscribe_unsubscribe_races_on_one_topic_end_with_the_right_subscription()
    {
        var sockets = new List<(TestClient Client, string Id)>();
        for (var i = 0; i < 8; i++)
        {
            sockets.Add(await _a.ConnectAsync());
        }

        var channel = $"{_prefix}:race";
        for (var round = 0; round < 30; round++)
        {
            // Every socket subscribes and unsubscribes at once, from different threads; in odd rounds one stays.
            await Task.WhenAll(sockets.Select((s, i) => Task.Run(async () =>
            {
                await _a.Provider.SubscribeAsync(s.Id, "race");
                if (round % 2 == 0 || i != 0)
                {
                    await _a.Provider.UnsubscribeAsync(s.Id, "race");
                }
            })));

            var expected = round % 2 == 0 ? 0 : 1;
            Assert.Equal(expected, _a.Provider.GetSubscriberCount("race"));
            Assert.Equal(expected, await RespClient.NumSubAsync(Redis, channel));
            await _a.Provider.UnsubscribeAsync(sockets[0].Id, "race");
            Assert.Equal(0, await RespClient.NumSubAsync(Redis, channel));
        }

        foreach (var (client, _) in sockets)
        {
            await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task Direct_sends_and_broadcasts_cross_instances_without_a_channel_per_socket()
    {
        var (onA, idA) = await _a.ConnectAsync();
        var (onB, idB) = await _b.ConnectAsync();
        await using (onA)
        await using (onB)
        {
            await _a.Emitter.SendAsync(idB, Push("to-b"));
            Assert.Equal("to-b", await PayloadAsync(onB));
            await onA.AssertSilentAsync(s_quiet);

            await _b.Emitter.BroadcastAsync(Push("all-but-a"), exceptSocketIds: [idA]);
            Assert.Equal("all-but-a", await PayloadAsync(onB));
            await onA.AssertSilentAsync(s_quiet);

            await _a.Emitter.BroadcastAsync(Push("everyone"));
            Assert.Equal("everyone", await PayloadAsync(onA));
            Assert.Equal("everyone", await PayloadAsync(onB));

            // The only channels are the topics and one control channel: none per socket.
            var channels = await RespClient.ChannelsAsync(Redis, $"{_prefix}:*");
            Assert.Equal([$"{_prefix}:#control"], channels);
            Assert.Equal(2, await RespClient.NumSubAsync(Redis, $"{_prefix}:#control"));
        }
    }

    [Fact]
    public async Task A_user_with_sockets_on_two_instances_gets_one_copy_per_socket_from_either_and_from_a_worker()
    {
        var (phone, phoneId) = await _a.ConnectAsync("alice");
        var (laptop, _) = await _b.ConnectAsync("alice");
        var (bob, _) = await _b.ConnectAsync("bob");
        await using (phone)
        await using (laptop)
        await using (bob)
        {
            await _a.Emitter.SendToUserAsync("alice", Push("from-a"));
            Assert.Equal("from-a", await PayloadAsync(phone));
            Assert.Equal("from-a", await PayloadAsync(laptop));

            await _b.Emitter.SendToUserAsync("alice", Push("not-the-phone"), [phoneId]);
            Assert.Equal("not-the-phone", await PayloadAsync(laptop));

            await using var worker = new RedisSocketEmitter(new OriSocketsRedisOptions { ConnectionString = Redis, ChannelPrefix = _prefix });
            await worker.EmitToUserAsync("alice", new Note("from-worker"));
            Assert.Equal("from-worker", await PayloadAsync(phone));
            Assert.Equal("from-worker", await PayloadAsync(laptop));

            // Exactly one copy each: nothing more came, and bob got none of it.
            await phone.AssertSilentAsync(s_quiet);
            await laptop.AssertSilentAsync(s_quiet);
            await bob.AssertSilentAsync(s_quiet);
        }
    }

    [Fact]
    public async Task Disconnecting_a_user_closes_their_sockets_on_every_instance_with_1008()
    {
        var (phone, _) = await _a.ConnectAsync("alice");
        var (laptop, _) = await _b.ConnectAsync("alice");
        var (bob, _) = await _b.ConnectAsync("bob");
        await using (phone)
        await using (laptop)
        await using (bob)
        {
            await _a.Emitter.DisconnectUserAsync("alice", "Access revoked");
            Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.PolicyViolation, await phone.WaitForCloseAsync());
            Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.PolicyViolation, await laptop.WaitForCloseAsync());
            Assert.Equal("Access revoked", laptop.CloseDescription);
            await bob.AssertSilentAsync(s_quiet);
            Assert.Equal(System.Net.WebSockets.WebSocketState.Open, bob.Socket.State);
        }
    }

    [Fact]
    public async Task Exclude_the_sender_works_across_instances()
    {
        var (onA, idA) = await _a.JoinAsync("chat");
        var (onB, _) = await _b.JoinAsync("chat");
        var (onA2, idA2) = await _a.JoinAsync("chat");
        var (onB2, idB2) = await _b.JoinAsync("chat");
        await using (onA)
        await using (onB)
        await using (onA2)
        await using (onB2)
        {
            await _b.Emitter.PublishAsync("chat", Push("from-a"), exceptSocketIds: [idA]);
            Assert.Equal("from-a", await PayloadAsync(onB));
            Assert.Equal("from-a", await PayloadAsync(onA2));
            Assert.Equal("from-a", await PayloadAsync(onB2));
            await onA.AssertSilentAsync(s_quiet);

            // A set of sockets left out, on both instances, for a publish and for a broadcast.
            await _a.Emitter.PublishAsync("chat", Push("some"), exceptSocketIds: [idA, idA2, idB2]);
            Assert.Equal("some", await PayloadAsync(onB));
            await _b.Emitter.BroadcastAsync(Push("all-but-three"), exceptSocketIds: [idA, idA2, idB2]);
            Assert.Equal("all-but-three", await PayloadAsync(onB));
            await onA.AssertSilentAsync(s_quiet);
            await onA2.AssertSilentAsync(s_quiet);
            await onB2.AssertSilentAsync(s_quiet);
        }
    }

    [Fact]
    public async Task Disconnect_reaches_a_socket_on_another_instance()
    {
        var (onB, idB) = await _b.ConnectAsync();
        await using (onB)
        {
            await _a.Provider.DisconnectAsync(idB);
            Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, await onB.WaitForCloseAsync());
        }
    }

    [Fact]
    public async Task Typed_emit_goes_through_redis_too()
    {
        var (onB, _) = await _b.JoinAsync("typed");
        await using (onB)
        {
            await _a.Emitter.EmitAsync("typed", new Note("typed-hello"));
            var push = await onB.ReceiveJsonAsync();
            Assert.Equal("note", push.GetProperty("name").GetString());
            Assert.Equal("typed-hello", push.GetProperty("data").GetProperty("text").GetString());
        }
    }

    [Fact]
    public async Task Messages_that_are_malformed_or_on_the_wrong_channel_are_dropped_and_counted()
    {
        var (onB, _) = await _b.JoinAsync("guarded");
        await using (onB)
        {
            var channel = $"{_prefix}:guarded";
            await RespClient.CommandAsync(Redis, "PUBLISH", channel, "not an ori message");
            await RespClient.CommandAsync(Redis, "PUBLISH", channel, new byte[] { 1, (byte)'t', 0, 1 });
            // A well-formed message whose topic is not its channel's.
            var other = RedisEnvelope.Encode(RedisMessageKind.Topic, "someone", "other", null, """{"name":"note","data":{"text":"wrong"},"timestamp":1}"""u8);
            await RespClient.CommandAsync(Redis, "PUBLISH", channel, other);
            // A topic message on the control channel; and invalid UTF-8 as payload.
            await RespClient.CommandAsync(Redis, "PUBLISH", $"{_prefix}:#control", other);
            await RespClient.CommandAsync(Redis, "PUBLISH", channel, RedisEnvelope.Encode(RedisMessageKind.Topic, "someone", "guarded", null, [0xC3, 0x28]));

            await onB.AssertSilentAsync(s_quiet);
            Assert.Equal(3, _b.Counters.MalformedCount);
            Assert.Equal(2, _b.Counters.MismatchedCount);
            Assert.Equal(0, _b.Counters.ReceivedCount);
            Assert.Contains(_b.Logs.Entries, e => e.EventId == 105);

            // A valid message from another origin still arrives.
            await RespClient.CommandAsync(Redis, "PUBLISH", channel, RedisEnvelope.Encode(RedisMessageKind.Topic, "someone", "guarded", null, """{"name":"note","data":{"text":"fine"},"timestamp":1}"""u8));
            Assert.Equal("fine", await PayloadAsync(onB));
        }
    }

    [Fact]
    public async Task Applications_with_other_prefixes_never_see_each_other()
    {
        await using var other = await Instance.StartAsync(Redis, _prefix + "x");
        var (onA, _) = await _a.JoinAsync("shared");
        await using (onA)
        {
            await other.Emitter.PublishAsync("shared", Push("elsewhere"));
            await other.Emitter.BroadcastAsync(Push("elsewhere"));
            await onA.AssertSilentAsync(s_quiet);
        }
    }

    [Theory]
    [InlineData("a*")]
    [InlineData("a?b")]
    [InlineData("[ab]")]
    public async Task Topics_that_look_like_patterns_are_refused_and_no_pattern_is_ever_subscribed(string topic)
    {
        var (client, id) = await _a.ConnectAsync();
        await using (client)
        {
            await Assert.ThrowsAnyAsync<ArgumentException>(async () => await _a.Provider.SubscribeAsync(id, topic));
            await Assert.ThrowsAnyAsync<ArgumentException>(async () => await _a.Emitter.PublishAsync(topic, Push("x")));
            var reply = await client.RequestAsync("room.join", new { room = topic }, "p");
            Assert.Equal("validation_failed", reply.GetProperty("error").GetString());
            Assert.Equal(0L, (long)(await RespClient.CommandAsync(Redis, "PUBSUB", "NUMPAT"))!);
        }
    }

    [Fact]
    public async Task A_stopped_instance_leaves_no_subscription_behind()
    {
        var (onB, _) = await _b.JoinAsync("leaving");
        Assert.Equal(1, await RespClient.NumSubAsync(Redis, $"{_prefix}:leaving"));
        await _b.StopAsync();
        Assert.Equal(0, await RespClient.NumSubAsync(Redis, $"{_prefix}:leaving"));
        Assert.Equal(1, await RespClient.NumSubAsync(Redis, $"{_prefix}:#control"));
        await onB.DisposeAsync();
    }

    [Fact]
    public async Task Fan_out_across_instances_reaches_1000_subscribers_on_the_other_instance()
    {
        const int subscribers = 1000;
        const int messages = 500;
        var clients = new List<TestClient>(subscribers);
        for (var i = 0; i < subscribers; i++)
        {
            clients.Add((await _b.JoinAsync("fanout")).Client);
        }

        var started = System.Diagnostics.Stopwatch.StartNew();
        // Published back to back (the multiplexer keeps their order on its one connection), awaited together.
        var publishes = new List<Task>(messages);
        for (var m = 0; m < messages; m++)
        {
            publishes.Add(_a.Emitter.PublishAsync("fanout", Push($"m{m}")).AsTask());
        }

        await Task.WhenAll(publishes);

        var published = started.Elapsed;
        await Eventually.TrueAsync(() => _b.Counters.ReceivedCount == messages, TimeSpan.FromSeconds(30));
        var crossed = started.Elapsed;

        // Every subscriber receives every message, in order.
        await Task.WhenAll(clients.Select(async c =>
        {
            for (var m = 0; m < messages; m++)
            {
                Assert.Equal($"m{m}", await PayloadAsync(c));
            }
        }));
        started.Stop();
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"cross-instance fan-out: published in {published.TotalMilliseconds:F0} ms, all through Redis to B's hub in {crossed.TotalMilliseconds:F0} ms " +
            $"({messages / crossed.TotalSeconds:F0} messages/s, {messages * (double)subscribers / crossed.TotalSeconds:F0} deliveries queued/s); " +
            $"all {messages} x {subscribers} received by the test's clients in {started.Elapsed.TotalMilliseconds:F0} ms = " +
            $"{messages / started.Elapsed.TotalSeconds:F0} messages/s, {messages * (double)subscribers / started.Elapsed.TotalSeconds:F0} deliveries/s");
        Assert.Equal(messages, _b.Counters.ReceivedCount);
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
    }
}

/// <summary>A typed push, written by hand (this project has no generator).</summary>
internal sealed record Note(string Text) : ISocketMessage<Note>
{
    public static string MessageName => "note";

    public static SocketSerializer<Note> Serializer { get; } = new NoteSerializer();

    public static string JsonSchema => """{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}""";

    private sealed class NoteSerializer : SocketSerializer<Note>
    {
        public override void Write(Utf8JsonWriter writer, Note value)
        {
            writer.WriteStartObject();
            writer.WriteString("text", value.Text);
            writer.WriteEndObject();
        }

        public override Note? Read(ref Utf8JsonReader reader, SocketValidationContext validation) =>
            throw new NotSupportedException("Only written in these tests.");
    }
}
