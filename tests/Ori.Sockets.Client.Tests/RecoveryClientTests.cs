using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Client.Tests;

/// <summary>The .NET client recovers recoverable rooms by itself: positions kept, sent on rejoin, duplicates dropped, outcome told.</summary>
public sealed class RecoveryClientTests : IAsyncLifetime
{
    private ChatServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await ChatServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private async Task<(OriSocketClient Client, ConcurrentQueue<int> Notes, ConcurrentQueue<OriSocketRecovery> Recoveries)> JoinedAsync(string room)
    {
        // A reconnect a second after the drop: the test publishes while the client is away.
        var client = new OriSocketClient(_server.Uri(), new OriSocketClientOptions
        {
            ReconnectInitialDelay = TimeSpan.FromSeconds(1),
            ReconnectMaxDelay = TimeSpan.FromSeconds(1),
            RequestTimeout = TimeSpan.FromSeconds(5),
        });
        var notes = new ConcurrentQueue<int>();
        var recoveries = new ConcurrentQueue<OriSocketRecovery>();
        client.On<ChatNote>(n => notes.Enqueue(n.Number));
        client.Recovery += recoveries.Enqueue;
        await client.ConnectAsync();
        await client.JoinRoomAsync(room);
        return (client, notes, recoveries);
    }

    private async Task PublishAsync(string room, int from, int to)
    {
        for (var n = from; n <= to; n++)
        {
            await _server.Emitter.EmitAsync(room, new ChatNote(n));
        }
    }

    private async Task DropAsync(OriSocketClient client)
    {
        await _server.Provider.DisconnectAsync(client.SocketId!);
        await Eventually.TrueAsync(() => client.State == OriSocketClientState.Reconnecting);
    }

    [Fact]
    public async Task After_a_drop_the_client_rejoins_with_its_position_and_gets_what_it_missed_once_in_order()
    {
        var (client, notes, recoveries) = await JoinedAsync("feed:1");
        await using var _ = client;
        await PublishAsync("feed:1", 1, 2);
        await Eventually.TrueAsync(() => notes.Count == 2);
        var before = client.GetPosition("feed:1");
        Assert.Equal(2, before!.Value.Offset);

        await DropAsync(client);
        await PublishAsync("feed:1", 3, 5);
        await Eventually.TrueAsync(() => client.State == OriSocketClientState.Connected && recoveries.Count == 1);
        await PublishAsync("feed:1", 6, 6);
        await Eventually.TrueAsync(() => notes.Count >= 6);
        await Task.Delay(300, TestContext.Current.CancellationToken);

        Assert.Equal([1, 2, 3, 4, 5, 6], notes);
        Assert.Equal(new OriSocketRecovery("feed:1", true, before.Value), Assert.Single(recoveries));
        Assert.Equal(new SocketPosition(before.Value.Epoch, 6), client.GetPosition("feed:1"));
    }

    [Fact]
    public async Task When_more_was_missed_than_the_history_keeps_the_client_is_told_and_gets_nothing_old()
    {
        var (client, notes, recoveries) = await JoinedAsync("feed:2");
        await using var _ = client;
        await PublishAsync("feed:2", 1, 1);
        await Eventually.TrueAsync(() => notes.Count == 1);
        await DropAsync(client);

        // Seven missed; five kept.
        await PublishAsync("feed:2", 2, 8);
        await Eventually.TrueAsync(() => client.State == OriSocketClientState.Connected && recoveries.Count == 1);
        var recovery = Assert.Single(recoveries);
        Assert.False(recovery.Recovered);
        Assert.Equal(8, recovery.Position.Offset);
        await PublishAsync("feed:2", 9, 9);
        await Eventually.TrueAsync(() => notes.Count == 2);
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.Equal([1, 9], notes);
    }

    [Fact]
    public async Task A_server_restart_begins_a_new_history_and_the_client_is_told_it_was_not_recovered()
    {
        var (client, notes, recoveries) = await JoinedAsync("feed:3");
        await using var _ = client;
        await PublishAsync("feed:3", 1, 1);
        await Eventually.TrueAsync(() => notes.Count == 1);
        var epoch = client.GetPosition("feed:3")!.Value.Epoch;

        await _server.StopAsync();
        await _server.StartAgainAsync();
        await Eventually.TrueAsync(() => client.State == OriSocketClientState.Connected && recoveries.Count == 1);
        var recovery = Assert.Single(recoveries);
        Assert.False(recovery.Recovered);
        Assert.NotEqual(epoch, recovery.Position.Epoch);

        // The new history's first push is not taken for a duplicate of the old one's.
        await PublishAsync("feed:3", 2, 2);
        await Eventually.TrueAsync(() => notes.Count == 2);
        Assert.Equal([1, 2], notes);
    }
}

/// <summary>The client's own bookkeeping, against a scripted server that repeats and skips offsets.</summary>
public sealed class RecoveryBookkeepingTests
{
    [Fact]
    public async Task Duplicates_are_dropped_and_a_gap_or_a_new_epoch_is_reported_as_not_recovered()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        await using var app = builder.Build();
        app.UseWebSockets();
        app.Run(async (HttpContext context) =>
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            async Task SendAsync(string text) => await socket.SendAsync(System.Text.Encoding.UTF8.GetBytes(text), System.Net.WebSockets.WebSocketMessageType.Text, true, CancellationToken.None);
            await SendAsync("""{"name":"ori.ready","data":{"socketId":"s1"},"timestamp":1}""");
            var buffer = new byte[4096];
            var join = await socket.ReceiveAsync(buffer, CancellationToken.None);
            var id = System.Text.Json.JsonDocument.Parse(buffer.AsMemory(0, join.Count)).RootElement.GetProperty("correlationId").GetString();
            await SendAsync($$$"""{"type":"room.join","correlationId":"{{{id}}}","data":{"room":"feed","joined":true,"recovered":false,"epoch":"e1","offset":0}}""");
            foreach (var (n, offset, epoch) in new[] { (1, 1, "e1"), (2, 2, "e1"), (2, 2, "e1"), (1, 1, "e1"), (3, 3, "e1"), (5, 5, "e1"), (7, 1, "e2"), (8, 2, "e2") })
            {
                await SendAsync($$"""{"name":"chat.note","data":{"number":{{n}}},"timestamp":1,"topic":"feed","offset":{{offset}},"epoch":"{{epoch}}"}""");
            }

            await socket.ReceiveAsync(buffer, CancellationToken.None);
        });
        await app.StartAsync(TestContext.Current.CancellationToken);
        var address = new Uri(app.Urls.First());

        await using var client = new OriSocketClient(new Uri($"ws://{address.Authority}/"));
        var notes = new ConcurrentQueue<int>();
        var recoveries = new ConcurrentQueue<OriSocketRecovery>();
        client.On<ChatNote>(n => notes.Enqueue(n.Number));
        client.Recovery += recoveries.Enqueue;
        await client.ConnectAsync(TestContext.Current.CancellationToken);
        await client.JoinRoomAsync("feed", TestContext.Current.CancellationToken);
        await Eventually.TrueAsync(() => notes.Count >= 6);
        await Task.Delay(200, TestContext.Current.CancellationToken);

        Assert.Equal([1, 2, 3, 5, 7, 8], notes);
        Assert.Equal(
            [new OriSocketRecovery("feed", false, new SocketPosition("e1", 5)), new OriSocketRecovery("feed", false, new SocketPosition("e2", 1))],
            recoveries);
        Assert.Equal(new SocketPosition("e2", 2), client.GetPosition("feed"));
    }
}
