using System.Text.Json;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

/// <summary>Recoverable topics on one instance: positions on pushes, and a rejoin that gets what it missed, in order.</summary>
public sealed class RecoveryTests
{
    private static Task<TestServer> StartAsync(int maxMessages = 100) => TestServer.StartAsync(
        sockets: s => s.AddRoomRule((_, room) => room != "secret").AddRecoverableTopics("feed*", maxMessages).AddRecoverableTopics("secret"));

    private static async Task PublishAsync(TestServer server, string topic, int n) =>
        await server.Emitter.PublishAsync(topic, $$"""{"name":"note","data":{"n":{{n}}},"timestamp":1}""", cancellationToken: TestContext.Current.CancellationToken);

    private static async Task<(int N, long Offset, string Epoch)> NextAsync(TestClient client)
    {
        var push = await client.ReceiveJsonAsync();
        Assert.Equal("feed", push.GetProperty("topic").GetString());
        return (push.GetProperty("data").GetProperty("n").GetInt32(), push.GetProperty("offset").GetInt64(), push.GetProperty("epoch").GetString()!);
    }

    [Fact]
    public async Task A_client_that_rejoins_with_its_last_position_gets_what_it_missed_in_order_before_anything_newer()
    {
        await using var server = await StartAsync();
        string epoch;
        await using (var first = await server.ConnectAsync())
        {
            await first.ReadyAsync();
            var joined = (await first.RequestAsync("room.join", new { room = "feed" }, "j")).GetProperty("data");
            Assert.Equal(0, joined.GetProperty("offset").GetInt64());
            epoch = joined.GetProperty("epoch").GetString()!;
            for (var n = 1; n <= 3; n++)
            {
                await PublishAsync(server, "feed", n);
                Assert.Equal((n, n, epoch), await NextAsync(first));
            }
        }

        // Missed while away.
        for (var n = 4; n <= 6; n++)
        {
            await PublishAsync(server, "feed", n);
        }

        await using var again = await server.ConnectAsync();
        await again.ReadyAsync();
        var reply = (await again.RequestAsync("room.join", new { room = "feed", recover = new { epoch, offset = 3 } }, "r")).GetProperty("data");
        Assert.True(reply.GetProperty("recovered").GetBoolean());
        Assert.Equal(6, reply.GetProperty("offset").GetInt64());
        Assert.Equal(epoch, reply.GetProperty("epoch").GetString());
        await PublishAsync(server, "feed", 7);
        for (var n = 4; n <= 7; n++)
        {
            Assert.Equal((n, n, epoch), await NextAsync(again));
        }

        await again.AssertSilentAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task A_position_older_than_the_history_or_of_another_epoch_is_not_recovered_and_nothing_old_is_sent()
    {
        await using var server = await StartAsync(maxMessages: 2);
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        var epoch = (await client.RequestAsync("room.join", new { room = "feed" }, "j")).GetProperty("data").GetProperty("epoch").GetString()!;
        await client.RequestAsync("room.leave", new { room = "feed" }, "l");
        for (var n = 1; n <= 5; n++)
        {
            await PublishAsync(server, "feed", n);
        }

        // Offset 1 is older than the two kept (4, 5).
        var old = (await client.RequestAsync("room.join", new { room = "feed", recover = new { epoch, offset = 1 } }, "r")).GetProperty("data");
        Assert.False(old.GetProperty("recovered").GetBoolean());
        Assert.Equal(5, old.GetProperty("offset").GetInt64());
        await client.AssertSilentAsync(TimeSpan.FromMilliseconds(300));
        await client.RequestAsync("room.leave", new { room = "feed" }, "l2");

        var other = (await client.RequestAsync("room.join", new { room = "feed", recover = new { epoch = "another", offset = 4 } }, "r2")).GetProperty("data");
        Assert.False(other.GetProperty("recovered").GetBoolean());
        await client.AssertSilentAsync(TimeSpan.FromMilliseconds(300));
        await PublishAsync(server, "feed", 6);
        Assert.Equal((6, 6, epoch), await NextAsync(client));
    }

    [Theory]
    [InlineData("""{"room":"feed","recover":{"epoch":"e","offset":-1}}""", "$.data.recover.offset")]
    [InlineData("""{"room":"feed","recover":{"epoch":"e","offset":"x"}}""", "$.data.recover.offset")]
    [InlineData("""{"room":"feed","recover":{"offset":1}}""", "$.data.recover.epoch")]
    [InlineData("""{"room":"feed","recover":5}""", "$.data.recover")]
    [InlineData("""{"room":"plain","recover":{"epoch":"e","offset":1}}""", "$.data.recover")]
    public async Task A_malformed_recover_is_validation_failed_and_subscribes_nothing(string data, string path)
    {
        await using var server = await StartAsync();
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        await client.SendAsync($$"""{"type":"room.join","correlationId":"r","data":{{data}}}""");
        var reply = await client.ReceiveJsonAsync();
        Assert.Equal("validation_failed", reply.GetProperty("error").GetString());
        Assert.Equal(path, reply.GetProperty("details")[0].GetProperty("path").GetString());
        Assert.Equal(0, server.Provider.GetSubscriberCount("feed") + server.Provider.GetSubscriberCount("plain"));
    }

    [Fact]
    public async Task A_recover_on_a_room_the_rules_forbid_is_forbidden_and_says_nothing_of_its_history()
    {
        await using var server = await StartAsync();
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        var reply = await client.RequestAsync("room.join", new { room = "secret", recover = new { epoch = "e", offset = 0 } }, "r");
        Assert.Equal("forbidden", reply.GetProperty("error").GetString());
        Assert.False(reply.TryGetProperty("data", out _));
        Assert.DoesNotContain("epoch", reply.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Recovering_many_missed_pushes_delivers_them_all_in_order_and_reports_the_time_it_took()
    {
        await using var server = await StartAsync(maxMessages: 1000);
        var timings = new List<string>();
        foreach (var missed in new[] { 10, 100, 1000 })
        {
            string epoch;
            await using (var first = await server.ConnectAsync())
            {
                await first.ReadyAsync();
                epoch = (await first.RequestAsync("room.join", new { room = "feed" }, "j")).GetProperty("data").GetProperty("epoch").GetString()!;
                await first.RequestAsync("room.leave", new { room = "feed" }, "l");
            }

            var from = missed switch { 10 => 0, 100 => 10, _ => 110 };
            for (var n = from + 1; n <= from + missed; n++)
            {
                await PublishAsync(server, "feed", n);
            }

            await using var again = await server.ConnectAsync();
            await again.ReadyAsync();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var reply = (await again.RequestAsync("room.join", new { room = "feed", recover = new { epoch, offset = from } }, "r")).GetProperty("data");
            var replied = clock.Elapsed;
            Assert.True(reply.GetProperty("recovered").GetBoolean());
            for (var n = from + 1; n <= from + missed; n++)
            {
                Assert.Equal((n, (long)n, epoch), await NextAsync(again));
            }

            timings.Add($"{missed} missed: reply {replied.TotalMilliseconds:F1} ms, last of them {clock.Elapsed.TotalMilliseconds:F1} ms");
        }

        TestContext.Current.TestOutputHelper?.WriteLine("recovery on one instance: " + string.Join("; ", timings));
    }

    [Fact]
    public async Task Recoverable_topics_may_be_declared_in_configuration_and_a_bad_declaration_stops_the_host_at_start()
    {
        await using var server = await TestServer.StartAsync(
            sockets: s => s.AddRoomRule((_, _) => true),
            builder: b =>
            {
                b.Configuration["Ori:Sockets:RecoverableTopics:0:Pattern"] = "orders:*";
                b.Configuration["Ori:Sockets:RecoverableTopics:0:MaxMessages"] = "2";
            });
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        var joined = (await client.RequestAsync("room.join", new { room = "orders:7" }, "j")).GetProperty("data");
        Assert.Equal(0, joined.GetProperty("offset").GetInt64());
        var plain = (await client.RequestAsync("room.join", new { room = "other" }, "k")).GetProperty("data");
        Assert.False(plain.TryGetProperty("offset", out _));

        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => TestServer.StartAsync(
            builder: b => b.Configuration["Ori:Sockets:RecoverableTopics:0:Pattern"] = "no spaces*"));
        Assert.Contains("Ori:Sockets:RecoverableTopics 'no spaces*'", error.Message, StringComparison.Ordinal);
    }
}
