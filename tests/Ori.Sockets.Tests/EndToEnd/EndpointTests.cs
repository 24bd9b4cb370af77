using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets.Tests.Generated;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

/// <summary>
/// Generated endpoints on one server: each runs its own connection guards and serves only its routers; the
/// routers no endpoint serves are served by MapOriSockets(pattern), without guards.
/// </summary>
public sealed class EndpointTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async ValueTask InitializeAsync() =>
        _server = await TestServer.StartAsync(
            sockets: s => s.AddSocketRouters(),
            builder: b => b.Services.AddSingleton<OrderBook>(),
            app: a =>
            {
                a.MapOriSockets<ShopSocket>("/shop");
                a.MapOriSockets<ReadOnlyShopSocket>("/readonly");
            });

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task An_endpoint_runs_its_guards_and_serves_only_its_routers()
    {
        await using var refused = await ConnectAsync("/shop");
        Assert.Null(await refused.ReceiveAsync());
        Assert.Equal(SocketCloseCodes.PolicyViolation, (int?)refused.CloseStatus);

        await using var shopper = await ConnectAsync("/shop", "shopper=ann");
        await shopper.ReadyAsync();
        var count = await shopper.RequestAsync("order.count", new { }, "c1");
        Assert.True(count.GetProperty("data").GetInt32() >= 1);
        var hello = await shopper.RequestAsync("public.hello", new { }, "h1");
        Assert.Equal("unknown_type", hello.GetProperty("error").GetString());
    }

    [Fact]
    public async Task The_default_endpoint_has_no_guards_and_serves_only_the_routers_no_endpoint_serves()
    {
        await using var anyone = await ConnectAsync("/ws");
        await anyone.ReadyAsync();
        var hello = await anyone.RequestAsync("public.hello", new { }, "h1");
        Assert.Equal("hello", hello.GetProperty("data").GetString());
        var count = await anyone.RequestAsync("order.count", new { }, "c1");
        Assert.Equal("unknown_type", count.GetProperty("error").GetString());
    }

    [Fact]
    public async Task An_endpoint_message_guard_runs_before_every_route_of_that_endpoint_only()
    {
        var order = new { sku = "SKU-1", quantity = 1, priority = "low", lines = new[] { new { item = "bolt", weight = 1.0 } } };
        await using var readOnly = await ConnectAsync("/readonly", "shopper=ann");
        await readOnly.ReadyAsync();
        var refused = await readOnly.RequestAsync("order.place", order, "p1");
        Assert.Equal("forbidden", refused.GetProperty("error").GetString());
        var count = await readOnly.RequestAsync("order.count", new { }, "c1");
        Assert.True(count.TryGetProperty("data", out _));

        await using var shop = await ConnectAsync("/shop", "shopper=bob");
        await shop.ReadyAsync();
        var placed = await shop.RequestAsync("order.place", order, "p2");
        Assert.StartsWith("o-", placed.GetProperty("data").GetProperty("orderId").GetString(), StringComparison.Ordinal);
    }

    private Task<TestClient> ConnectAsync(string path, string? query = null) =>
        TestClient.ConnectAsync(new Uri($"ws://{_server.HttpUri.Authority}{path}{(query is null ? string.Empty : "?" + query)}"));
}
