using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

public sealed class PubSubTests
{
    private static void AllowAllRooms(OriSocketsBuilder sockets) => sockets.AddRoomRule((_, _) => true);

    [Fact]
    public async Task Publish_reaches_each_of_1000_subscribers_exactly_once()
    {
        await using var server = await TestServer.StartAsync(sockets: AllowAllRooms);
        var clients = new TestClient[1000];
        try
        {
            for (var i = 0; i < clients.Length; i += 50)
            {
                var batch = Enumerable.Range(i, 50).Select(async j =>
                {
                    var (client, _) = await TestClient.ConnectReadyAsync(server.WsUri);
                    var reply = await client.RequestAsync("room.join", new { room = "fanout" });
                    Assert.True(reply.GetProperty("data").GetProperty("joined").GetBoolean());
                    clients[j] = client;
                });
                await Task.WhenAll(batch);
            }

            Assert.Equal(1000, server.Provider.GetSubscriberCount("fanout"));
            await server.Emitter.PublishAsync("fanout", "payload-1", cancellationToken: TestContext.Current.CancellationToken);
            await server.Emitter.PublishAsync("fanout", "payload-2", cancellationToken: TestContext.Current.CancellationToken);

            // Each socket's next two messages are exactly the two publishes: one copy each, in order.
            await Task.WhenAll(clients.Select(async c =>
            {
                Assert.Equal("payload-1", await c.ReceiveAsync());
                Assert.Equal("payload-2", await c.ReceiveAsync());
            }));
            await Task.WhenAll(clients.Select(c => c.AssertSilentAsync(TimeSpan.FromMilliseconds(100))));
        }
        finally
        {
            await Task.WhenAll(clients.Where(c => c is not null).Select(c => c.DisposeAsync().AsTask()));
        }
    }

    [Fact]
    public async Task A_backlog_of_many_writes_arrives_complete_and_in_order_at_every_subscriber()
    {
        // 400 pushes of ~200 bytes: about 80 KB per socket, so each writer needs several turns (one write of
        // at most 16 KiB each, then the thread pool); nothing may be lost or reordered across turns.
        await using var server = await TestServer.StartAsync(sockets: AllowAllRooms);
        var clients = new TestClient[3];
        try
        {
            for (var i = 0; i < clients.Length; i++)
            {
                clients[i] = await server.ConnectAsync();
                await clients[i].ReadyAsync();
                await clients[i].RequestAsync("room.join", new { room = "backlog" });
            }

            var padding = new string('x', 190);
            for (var n = 0; n < 400; n++)
            {
                await server.Emitter.PublishAsync("backlog", $"{n:D4}{padding}", cancellationToken: TestContext.Current.CancellationToken);
            }

            await Task.WhenAll(clients.Select(async c =>
            {
                for (var n = 0; n < 400; n++)
                {
                    Assert.Equal($"{n:D4}{padding}", await c.ReceiveAsync());
                }
            }));
            await Task.WhenAll(clients.Select(c => c.AssertSilentAsync(TimeSpan.FromMilliseconds(100))));
        }
        finally
        {
            await Task.WhenAll(clients.Where(c => c is not null).Select(c => c.DisposeAsync().AsTask()));
        }
    }

    [Fact]
    public async Task Publish_can_exclude_the_sender()
    {
        await using var server = await TestServer.StartAsync(sockets: AllowAllRooms);
        await using var sender = await server.ConnectAsync();
        await using var other = await server.ConnectAsync();
        var senderId = await sender.ReadyAsync();
        await other.ReadyAsync();
        await sender.RequestAsync("room.join", new { room = "chat" });
        await other.RequestAsync("room.join", new { room = "chat" });

        var reply = await sender.RequestAsync("publish.others", new { text = "chat" });
        Assert.Equal(JsonValueKind.Null, reply.GetProperty("data").ValueKind);
        Assert.Equal($"from:{senderId}", await other.ReceiveAsync());
        await sender.AssertSilentAsync(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Publish_reaches_the_publisher_when_not_excluded()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        var id = await client.ReadyAsync();
        await client.RequestAsync("subscribe", new { text = "self" });
        await server.Emitter.PublishAsync("self", "to-me", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal("to-me", await client.ReceiveAsync());
        Assert.True(server.Provider.IsConnected(id));
    }

    [Fact]
    public async Task Broadcast_reaches_every_socket_that_passed_its_guards_and_only_those()
    {
        await using var server = await TestServer.StartAsync(connectionGuards: [typeof(GateGuard)]);
        var gate = server.Services.GetRequiredService<GateGuardGate>();
        await using var a = await server.ConnectAsync("open=1");
        await using var b = await server.ConnectAsync("open=1");
        await a.ReadyAsync();
        await b.ReadyAsync();
        await using var waiting = await server.ConnectAsync("open=0");
        await gate.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        await server.Emitter.BroadcastAsync("to-all", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal("to-all", await a.ReceiveAsync());
        Assert.Equal("to-all", await b.ReceiveAsync());

        // The socket still in its guards gets ori.ready first when let through, never the broadcast.
        gate.Release.TrySetResult();
        await waiting.ReadyAsync();
        await waiting.AssertSilentAsync(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Send_reaches_one_socket_only()
    {
        await using var server = await TestServer.StartAsync();
        var (a, idA) = await TestClient.ConnectReadyAsync(server.WsUri);
        var (b, _) = await TestClient.ConnectReadyAsync(server.WsUri);
        await using (a)
        await using (b)
        {
            await server.Emitter.SendAsync(idA, "just-a", TestContext.Current.CancellationToken);
            Assert.Equal("just-a", await a.ReceiveAsync());
            await b.AssertSilentAsync(TimeSpan.FromMilliseconds(200));

            // An unknown socket id is not an error: delivery is at most once.
            await server.Emitter.SendAsync(Guid.NewGuid().ToString(), "nobody", TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task Typed_emit_validates_and_wraps_the_message_in_the_push_envelope()
    {
        await using var server = await TestServer.StartAsync(sockets: AllowAllRooms);
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        await client.RequestAsync("room.join", new { room = "news" });

        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await server.Emitter.EmitAsync("news", new Announcement("Launch", 3), cancellationToken: TestContext.Current.CancellationToken);
        var push = await client.ReceiveJsonAsync();
        Assert.Equal("announcement", push.GetProperty("name").GetString());
        Assert.Equal("Launch", push.GetProperty("data").GetProperty("title").GetString());
        Assert.Equal(3, push.GetProperty("data").GetProperty("level").GetInt32());
        Assert.InRange(push.GetProperty("timestamp").GetInt64(), before - 1000, before + 10_000);

        var invalid = await Assert.ThrowsAsync<SocketValidationException>(async () =>
            await server.Emitter.EmitAsync("news", new Announcement("", 9), cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(["$.data.title", "$.data.level"], invalid.Errors.Select(e => e.Path));
        await client.AssertSilentAsync(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Invalid_topics_are_refused_with_an_exception()
    {
        await using var server = await TestServer.StartAsync();
        foreach (var topic in new[] { "", "has space", new string('t', 257), "é" })
        {
            await Assert.ThrowsAnyAsync<ArgumentException>(async () => await server.Emitter.PublishAsync(topic, "x", cancellationToken: TestContext.Current.CancellationToken));
        }

        await server.Emitter.PublishAsync(new string('t', 256), "x", cancellationToken: TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Room_join_is_forbidden_without_a_rule()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        var reply = await client.RequestAsync("room.join", new { room = "account:1" }, "j");
        Assert.Equal("forbidden", reply.GetProperty("error").GetString());
        Assert.Equal("room.join", reply.GetProperty("type").GetString());
        Assert.Equal("j", reply.GetProperty("correlationId").GetString());
        Assert.Equal(0, server.Provider.GetSubscriberCount("account:1"));
    }

    [Fact]
    public async Task Room_rules_decide_per_connection()
    {
        await using var server = await TestServer.StartAsync(sockets: s => s.AddRoomRule((socket, room) => room == $"own:{socket.SocketId}"));
        await using var client = await server.ConnectAsync();
        var id = await client.ReadyAsync();
        Assert.Equal("forbidden", (await client.RequestAsync("room.join", new { room = "own:someone-else" })).GetProperty("error").GetString());
        var joined = await client.RequestAsync("room.join", new { room = $"own:{id}" });
        Assert.True(joined.GetProperty("data").GetProperty("joined").GetBoolean());
        Assert.Equal($"own:{id}", joined.GetProperty("data").GetProperty("room").GetString());
    }

    [Fact]
    public async Task Reserved_topics_are_never_joinable_even_when_a_rule_allows_everything()
    {
        await using var server = await TestServer.StartAsync(sockets: AllowAllRooms);
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        Assert.Equal("forbidden", (await client.RequestAsync("room.join", new { room = "__broadcast__" })).GetProperty("error").GetString());
        Assert.Equal("forbidden", (await client.RequestAsync("room.leave", new { room = "__internal" })).GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"room":5}""")]
    [InlineData("""{"room":"has space"}""")]
    [InlineData("""{"room":""}""")]
    public async Task Room_join_with_an_invalid_room_is_validation_failed_at_data_room(string data)
    {
        await using var server = await TestServer.StartAsync(sockets: AllowAllRooms);
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        await client.SendAsync($$"""{"type":"room.join","data":{{data}}}""");
        var reply = await client.ReceiveJsonAsync();
        Assert.Equal("validation_failed", reply.GetProperty("error").GetString());
        Assert.Equal("$.data.room", reply.GetProperty("details")[0].GetProperty("path").GetString());
    }

    [Fact]
    public async Task Room_join_in_the_flattened_form_works_like_OriJS_clients_send_it()
    {
        await using var server = await TestServer.StartAsync(sockets: AllowAllRooms);
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        await client.SendAsync("""{"room":"account:1","type":"room.join"}""");
        var reply = await client.ReceiveJsonAsync();
        Assert.True(reply.GetProperty("data").GetProperty("joined").GetBoolean());
        Assert.Equal(1, server.Provider.GetSubscriberCount("account:1"));
    }

    [Fact]
    public async Task Room_leave_stops_delivery_and_is_not_an_error_when_not_joined()
    {
        await using var server = await TestServer.StartAsync(sockets: AllowAllRooms);
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        await client.RequestAsync("room.join", new { room = "r" });
        var left = await client.RequestAsync("room.leave", new { room = "r" });
        Assert.False(left.GetProperty("data").GetProperty("joined").GetBoolean());
        Assert.Equal(0, server.Provider.GetSubscriberCount("r"));
        await server.Emitter.PublishAsync("r", "gone", cancellationToken: TestContext.Current.CancellationToken);
        await client.AssertSilentAsync(TimeSpan.FromMilliseconds(200));

        var again = await client.RequestAsync("room.leave", new { room = "never-joined" });
        Assert.False(again.GetProperty("data").GetProperty("joined").GetBoolean());
    }

    [Fact]
    public async Task Counts_follow_connections_and_subscriptions_and_drop_when_sockets_close()
    {
        await using var server = await TestServer.StartAsync(sockets: AllowAllRooms);
        var (a, _) = await TestClient.ConnectReadyAsync(server.WsUri);
        var (b, _) = await TestClient.ConnectReadyAsync(server.WsUri);
        await a.RequestAsync("room.join", new { room = "t1" });
        await b.RequestAsync("room.join", new { room = "t1" });
        await b.RequestAsync("room.join", new { room = "t2" });
        Assert.Equal(2, server.Provider.ConnectionCount);
        Assert.Equal(2, server.Provider.GetSubscriberCount("t1"));
        Assert.Equal(1, server.Provider.GetSubscriberCount("t2"));

        await b.DisposeAsync();
        await Eventually.TrueAsync(() => server.Provider.ConnectionCount == 1 && server.Provider.GetSubscriberCount("t2") == 0);
        Assert.Equal(1, server.Provider.GetSubscriberCount("t1"));
        var hub = server.Services.GetRequiredService<SocketHub>();
        Assert.Equal(new Dictionary<string, int> { ["t1"] = 1 }, hub.GetSubscriberCounts());
        await a.DisposeAsync();
        await Eventually.TrueAsync(() => server.Provider.ConnectionCount == 0 && hub.GetSubscriberCounts().Count == 0);
    }

    [Fact]
    public async Task Disconnect_closes_the_socket_with_1000()
    {
        await using var server = await TestServer.StartAsync();
        var (client, id) = await TestClient.ConnectReadyAsync(server.WsUri);
        await using (client)
        {
            await server.Provider.DisconnectAsync(id, TestContext.Current.CancellationToken);
            Assert.Equal(WebSocketCloseStatus.NormalClosure, await client.WaitForCloseAsync());
            await Eventually.TrueAsync(() => !server.Provider.IsConnected(id));
        }
    }

    [Fact]
    public async Task Slow_consumer_is_closed_with_4008_while_others_keep_receiving_and_memory_stays_bounded()
    {
        await using var server = await TestServer.StartAsync(sockets: AllowAllRooms, options: o =>
        {
            o.OutboundQueueLimit = 256 * 1024;
            o.CloseTimeout = TimeSpan.FromSeconds(30);
        });
        var (slow, slowId) = await TestClient.ConnectReadyAsync(server.WsUri);
        var (fast, _) = await TestClient.ConnectReadyAsync(server.WsUri);
        await using (slow)
        await using (fast)
        {
            await slow.RequestAsync("room.join", new { room = "firehose" });
            await fast.RequestAsync("room.join", new { room = "firehose" });
            slow.StopReading();

            // The fast client reads everything in the background; the slow one reads nothing.
            var received = 0;
            var reader = Task.Run(async () =>
            {
                while (await fast.ReceiveAsync(TimeSpan.FromSeconds(20)) is { } text)
                {
                    if (text == "end")
                    {
                        return;
                    }

                    Interlocked.Increment(ref received);
                }
            }, TestContext.Current.CancellationToken);

            GC.Collect();
            GC.WaitForPendingFinalizers();
            var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
            var payload = SocketFrame.Text(new string('p', 16 * 1024));
            const int Messages = 3000; // 48 MiB for each subscriber: far more than the socket buffers hold.
            for (var i = 0; i < Messages; i++)
            {
                await server.Emitter.PublishAsync("firehose", payload, cancellationToken: TestContext.Current.CancellationToken);

                // Publishing never waits for a subscriber; the test paces itself so that the fast
                // reader stays well within its bound while the slow one falls behind for good.
                var sent = i + 1;
                await Eventually.TrueAsync(() => Volatile.Read(ref received) >= sent - 4, TimeSpan.FromSeconds(20));
            }

            await Eventually.TrueAsync(() => !server.Provider.IsConnected(slowId), TimeSpan.FromSeconds(20));
            var slowClosed = slow.WaitForCloseAsync(TimeSpan.FromSeconds(20));
            var heapAfter = GC.GetTotalMemory(forceFullCollection: true);
            await server.Emitter.PublishAsync("firehose", "end", cancellationToken: TestContext.Current.CancellationToken);
            await reader.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

            Assert.Equal(Messages, received);
            Assert.Equal((WebSocketCloseStatus)SocketCloseCodes.SlowConsumer, await slowClosed);
            Assert.True(heapAfter - heapBefore < 16 * 1024 * 1024, $"The heap grew by {(heapAfter - heapBefore) / 1024} KiB.");
        }
    }

    public sealed class GateGuardGate
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class GateGuard(GateGuardGate gate) : IConnectionGuard
    {
        public async ValueTask<bool> CanConnectAsync(ConnectionGuardContext context)
        {
            if (context.HttpContext.Request.Query["open"] == "1")
            {
                return true;
            }

            gate.Entered.TrySetResult();
            await gate.Release.Task.WaitAsync(context.CancellationToken);
            return true;
        }

        public sealed class Gate
        {
            public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    [Fact]
    public async Task A_topic_a_handler_builds_from_client_data_that_is_not_valid_is_answered_validation_failed_not_internal_error()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        foreach (var topic in new[] { "a b", "x*y", "bad\nline" })
        {
            var reply = await client.RequestAsync("subscribe", new { text = topic }, "t");
            Assert.Equal("validation_failed", reply.GetProperty("error").GetString());
            var detail = reply.GetProperty("details")[0];
            Assert.Equal("$.data", detail.GetProperty("path").GetString());
            Assert.Contains("is not a valid topic", detail.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        Assert.DoesNotContain(server.Logs.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
    }
}
