using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

/// <summary>
/// While a handler of a socket runs, the socket is still read: the heartbeat is answered at once, a close is
/// answered at once, and the other messages wait their turn (replies stay in the order of the messages).
/// </summary>
public sealed class ReadAheadTests
{
    [Fact]
    public async Task The_heartbeat_is_answered_while_a_handler_of_the_same_socket_runs_and_replies_keep_their_order()
    {
        await using var server = await TestServer.StartAsync();
        server.Services.GetRequiredService<TestHandlers>().SlowDelay = TimeSpan.FromSeconds(3);
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();

        await client.SendJsonAsync(new { type = "slow", correlationId = "a", data = new { text = "first" } });
        await client.SendJsonAsync(new { type = "echo", correlationId = "b", data = new { text = "second" } });
        await client.SendAsync("2");

        // The pong overtakes the slow handler's reply (3 s away): the socket was read while the handler ran.
        Assert.Equal("3", await client.ReceiveAsync(TimeSpan.FromSeconds(2)));

        var first = await client.ReceiveJsonAsync();
        var second = await client.ReceiveJsonAsync();
        Assert.Equal("a", first.GetProperty("correlationId").GetString());
        Assert.Equal("first", first.GetProperty("data").GetProperty("text").GetString());
        Assert.Equal("b", second.GetProperty("correlationId").GetString());
        Assert.Equal("second", second.GetProperty("data").GetProperty("text").GetString());
    }

    [Fact]
    public async Task Pushes_reach_a_socket_after_a_handler_that_ran_while_its_heartbeat_was_answered()
    {
        await using var server = await TestServer.StartAsync(sockets: s => s.AddRoomRule((_, _) => true));
        server.Services.GetRequiredService<TestHandlers>().SlowDelay = TimeSpan.FromMilliseconds(700);
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        var joined = await client.RequestAsync("room.join", new { room = "r" }, "j");
        Assert.True(joined.GetProperty("data").GetProperty("joined").GetBoolean());

        await client.SendJsonAsync(new { type = "slow", correlationId = "a", data = new { text = "first" } });
        await client.SendAsync("2");
        Assert.Equal("3", await client.ReceiveAsync(TimeSpan.FromSeconds(2)));
        Assert.Equal("a", (await client.ReceiveJsonAsync()).GetProperty("correlationId").GetString());

        await server.Emitter.PublishAsync("r", "pushed", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Contains("pushed", await client.ReceiveAsync(TimeSpan.FromSeconds(3)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Many_messages_sent_behind_a_running_handler_are_all_handled_in_order_with_pings_between_them()
    {
        await using var server = await TestServer.StartAsync();
        server.Services.GetRequiredService<TestHandlers>().SlowDelay = TimeSpan.FromMilliseconds(500);
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();

        // More messages than the connection holds while it waits: the rest stay unread until there is room.
        const int count = 100;
        await client.SendJsonAsync(new { type = "slow", correlationId = "s", data = new { text = "slow" } });
        for (var i = 0; i < count; i++)
        {
            await client.SendJsonAsync(new { type = "echo.async", correlationId = "e" + i, data = new { text = "m" + i } });
            await client.SendAsync("2");
        }

        var replies = new List<string>();
        var pongs = 0;
        while (replies.Count < count + 1)
        {
            var text = await client.ReceiveAsync();
            Assert.NotNull(text);
            if (text == "3")
            {
                pongs++;
                continue;
            }

            using var reply = JsonDocument.Parse(text);
            replies.Add(reply.RootElement.GetProperty("correlationId").GetString()!);
        }

        Assert.Equal(["s", .. Enumerable.Range(0, count).Select(i => "e" + i)], replies);
        while (pongs < count)
        {
            Assert.Equal("3", await client.ReceiveAsync());
            pongs++;
        }
    }

    [Fact]
    public async Task A_close_sent_while_a_handler_runs_is_answered_at_once_and_the_handler_is_canceled()
    {
        await using var server = await TestServer.StartAsync();
        var handlers = server.Services.GetRequiredService<TestHandlers>();
        handlers.SlowDelay = TimeSpan.FromSeconds(60);
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        await client.SendJsonAsync(new { type = "slow", correlationId = "a", data = new { text = "never" } });
        await Task.Delay(200, TestContext.Current.CancellationToken);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await client.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
        Assert.Equal(WebSocketState.Closed, client.Socket.State);
        await Eventually.TrueAsync(() => server.Provider.ConnectionCount == 0);
        Assert.Empty(handlers.Handled);
    }
}
