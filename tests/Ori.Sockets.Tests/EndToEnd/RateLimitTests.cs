using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Ori.Sockets.Tests.Generated;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

/// <summary>Message budgets (per connection and per route, on the application's clock) and connection attempts per address.</summary>
public sealed class RateLimitTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task A_connections_budget_refuses_past_its_burst_and_refills_with_the_clock()
    {
        await using var server = await TestServer.StartAsync(
            options: o =>
            {
                o.MessagesPerSecond = 2;
                o.MessageBurst = 3;
                o.IdleTimeout = TimeSpan.Zero;
            },
            builder: b => b.Services.AddSingleton<TimeProvider>(_time));
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal($"m{i}", (await client.RequestAsync("echo", new { text = $"m{i}" }, $"c{i}")).GetProperty("data").GetProperty("text").GetString());
        }

        var refused = await client.RequestAsync("echo", new { text = "over" }, "over");
        Assert.Equal("rate_limited", refused.GetProperty("error").GetString());
        Assert.Equal("echo", refused.GetProperty("type").GetString());
        Assert.Equal("over", refused.GetProperty("correlationId").GetString());

        // The heartbeat 2 is not counted.
        await client.SendAsync("2");
        Assert.Equal("3", await client.ReceiveAsync());

        // Half a second gives one message back; the one after is refused again.
        _time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal("again", (await client.RequestAsync("echo", new { text = "again" }, "a")).GetProperty("data").GetProperty("text").GetString());
        Assert.Equal("rate_limited", (await client.RequestAsync("echo", new { text = "x" }, "x")).GetProperty("error").GetString());

        // An hour gives back the burst, not more.
        _time.Advance(TimeSpan.FromHours(1));
        for (var i = 0; i < 3; i++)
        {
            Assert.True((await client.RequestAsync("echo", new { text = "b" }, $"b{i}")).TryGetProperty("data", out _));
        }

        Assert.Equal("rate_limited", (await client.RequestAsync("echo", new { text = "x" }, "y")).GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_routes_rate_limit_attribute_gives_it_a_budget_of_its_own_per_connection()
    {
        await using var server = await TestServer.StartAsync(
            sockets: s => s.AddSocketRouters(),
            builder: b =>
            {
                b.Services.AddSingleton<OrderBook>();
                b.Services.AddSingleton<TimeProvider>(_time);
            },
            options: o => o.IdleTimeout = TimeSpan.Zero,
            mapSockets: false,
            app: a => a.MapOriSockets<ShopSocket>("/ws"));
        await using var ann = await server.ConnectAsync("shopper=ann");
        await ann.ReadyAsync();
        await using var bob = await server.ConnectAsync("shopper=bob");
        await bob.ReadyAsync();

        Assert.Equal(1, (await ann.RequestAsync("stock.reserve", new { }, "r1")).GetProperty("data").GetInt32());
        Assert.Equal(2, (await ann.RequestAsync("stock.reserve", new { }, "r2")).GetProperty("data").GetInt32());
        var refused = await ann.RequestAsync("stock.reserve", new { }, "r3");
        Assert.Equal("rate_limited", refused.GetProperty("error").GetString());

        // Other routes of the same connection, and the same route on another connection, are not affected.
        Assert.True((await ann.RequestAsync("order.count", new { }, "c")).TryGetProperty("data", out _));
        Assert.Equal(1, (await bob.RequestAsync("stock.reserve", new { }, "b1")).GetProperty("data").GetInt32());

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(3, (await ann.RequestAsync("stock.reserve", new { }, "r4")).GetProperty("data").GetInt32());
    }

    [Fact]
    public async Task Connection_attempts_past_the_limit_per_address_get_429_before_any_upgrade()
    {
        await using var server = await TestServer.StartAsync(options: o => o.ConnectionsPerMinutePerAddress = 3);
        var clients = new List<TestClient>();
        for (var i = 0; i < 3; i++)
        {
            var client = await server.ConnectAsync();
            await client.ReadyAsync();
            clients.Add(client);
        }

        using var socket = TestClient.CreateSocket(null);
        socket.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(server.WsUri, TestContext.Current.CancellationToken));
        Assert.Equal(HttpStatusCode.TooManyRequests, socket.HttpStatusCode);
        Assert.True(socket.HttpResponseHeaders!.TryGetValue("Retry-After", out var retryAfter) && int.Parse(retryAfter.Single()!, System.Globalization.CultureInfo.InvariantCulture) is > 0 and <= 60);

        // The connections it already has are served.
        Assert.Equal("ok", (await clients[0].RequestAsync("echo", new { text = "ok" })).GetProperty("data").GetProperty("text").GetString());
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
    }
}
