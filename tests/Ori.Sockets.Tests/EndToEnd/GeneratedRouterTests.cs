using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets.Tests.Generated;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

/// <summary>The generated dispatch table, serializers and validators, on a real server.</summary>
public sealed class GeneratedRouterTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async ValueTask InitializeAsync() =>
        _server = await TestServer.StartAsync(
            sockets: s => s.AddSocketRouters(),
            builder: b => b.Services.AddSingleton<OrderBook>(),
            mapSockets: false,
            app: a => a.MapOriSockets<ShopSocket>("/ws"));

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private async Task<TestClient> ShopperAsync(string name = "ann")
    {
        var client = await _server.ConnectAsync("shopper=" + name);
        await client.ReadyAsync();
        return client;
    }

    private static object ValidOrder(string sku = "SKU-1", int quantity = 2) => new
    {
        sku,
        quantity,
        priority = "veryHigh",
        lines = new[] { new { item = "bolt", weight = 1.5 } },
    };

    [Fact]
    public async Task Generated_route_reads_the_message_calls_the_handler_and_writes_the_reply()
    {
        await using var client = await ShopperAsync("ann");
        var reply = await client.RequestAsync("order.place", ValidOrder(), "p1");

        Assert.Equal("p1", reply.GetProperty("correlationId").GetString());
        var data = reply.GetProperty("data");
        Assert.StartsWith("o-", data.GetProperty("orderId").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, data.GetProperty("quantity").GetInt32());
        Assert.Equal("veryHigh", data.GetProperty("priority").GetString());
        // The default of the primary constructor ("web") applies when the member is absent,
        // and the typed context carries the state the connection guard produced.
        Assert.Equal(["SKU-1", "web", "ann"], data.GetProperty("notes").EnumerateArray().Select(e => e.GetString()!));
        // The handler subscribed the socket through its context.
        Assert.Equal(1, _server.Provider.GetSubscriberCount("orders:ann"));
    }

    [Fact]
    public async Task Connection_guard_declared_on_the_router_refuses_with_1008()
    {
        var client = await _server.ConnectAsync();
        Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.PolicyViolation, await client.WaitForCloseAsync());
        await client.DisposeAsync();
    }

    [Fact]
    public async Task Every_invalid_member_is_reported_with_its_json_path()
    {
        await using var client = await ShopperAsync();
        var reply = await client.RequestAsync("order.place", new
        {
            sku = "x",
            quantity = 101,
            priority = "urgent",
            shipTo = new { street = "Main" },
            lines = new[] { new { item = "far-too-long-item", weight = 1.0 }, new { item = "ok", weight = double.MaxValue } },
            channel = "fax",
            tags = new Dictionary<string, object> { ["a"] = 1, ["b"] = "two" },
            currency = "eur",
            note_text = 5,
        }, "v1");

        Assert.Equal("validation_failed", reply.GetProperty("error").GetString());
        Assert.Equal("v1", reply.GetProperty("correlationId").GetString());
        var paths = reply.GetProperty("details").EnumerateArray().Select(d => d.GetProperty("path").GetString()).ToHashSet();
        Assert.Equal(
            new HashSet<string?>
            {
                "$.data.sku", "$.data.quantity", "$.data.priority", "$.data.shipTo.city", "$.data.lines[0].item", "$.data.lines[1].weight",
                "$.data.channel", "$.data.tags.b", "$.data.currency", "$.data.note_text",
            },
            paths);
    }

    [Fact]
    public async Task Missing_required_members_and_wrong_collection_sizes_are_reported()
    {
        await using var client = await ShopperAsync();
        var reply = await client.RequestAsync("order.place", new { quantity = 1, lines = Array.Empty<object>() });

        var details = reply.GetProperty("details").EnumerateArray().ToDictionary(d => d.GetProperty("path").GetString()!, d => d.GetProperty("message").GetString());
        Assert.Contains("$.data.sku", details.Keys);
        Assert.Contains("$.data.priority", details.Keys);
        Assert.Contains("$.data.lines", details.Keys);
        Assert.DoesNotContain("$.data.channel", details.Keys);
    }

    [Fact]
    public async Task Data_that_is_not_an_object_is_refused_at_the_root()
    {
        await using var client = await ShopperAsync();
        var reply = await client.RequestAsync("order.place", new[] { 1, 2 });
        Assert.Equal("validation_failed", reply.GetProperty("error").GetString());
        Assert.Equal("$.data", reply.GetProperty("details")[0].GetProperty("path").GetString());
    }

    [Fact]
    public async Task Optional_members_of_every_supported_kind_round_trip_into_the_handler()
    {
        await using var client = await ShopperAsync();
        var reply = await client.RequestAsync("order.place", new
        {
            sku = "AB",
            quantity = 100,
            priority = "low",
            shipTo = new { city = "Oslo", street = (string?)null },
            lines = new[] { new { item = "a", weight = 0.5 }, new { item = "b", weight = 2.0 }, new { item = "c", weight = 3.0 } },
            channel = "app",
            tags = new Dictionary<string, int> { ["x"] = 1 },
            currency = "NOK",
            discount = 0.25m,
            clientId = Guid.NewGuid(),
            at = DateTimeOffset.UtcNow,
            window = "01:30:00",
            note_text = "leave at door",
            unknownMember = new { ignored = true },
        });
        Assert.False(reply.TryGetProperty("error", out _), reply.GetRawText());
        Assert.Equal("low", reply.GetProperty("data").GetProperty("priority").GetString());
        Assert.Equal("app", reply.GetProperty("data").GetProperty("notes")[1].GetString());
    }

    [Fact]
    public async Task Message_guard_on_a_route_forbids_before_the_data_is_read()
    {
        await using var client = await ShopperAsync();
        var reply = await client.RequestAsync("order.place", ValidOrder(sku: "ADMIN"), "g1");
        Assert.Equal("forbidden", reply.GetProperty("error").GetString());
        Assert.Equal("g1", reply.GetProperty("correlationId").GetString());
    }

    [Fact]
    public async Task A_router_is_created_once_per_connection()
    {
        await using var first = await ShopperAsync("a");
        await using var second = await ShopperAsync("b");
        var a1 = (await first.RequestAsync("order.count")).GetProperty("data").GetInt32();
        var a2 = (await first.RequestAsync("order.count")).GetProperty("data").GetInt32();
        var b1 = (await second.RequestAsync("order.count")).GetProperty("data").GetInt32();
        Assert.Equal(a1, a2);
        Assert.NotEqual(a1, b1);
    }

    [Fact]
    public async Task Void_route_completes_with_an_empty_reply_and_static_task_route_replies()
    {
        await using var client = await ShopperAsync();
        var ping = await client.RequestAsync("order.ping", null, "n1");
        Assert.Equal("n1", ping.GetProperty("correlationId").GetString());
        Assert.False(ping.TryGetProperty("error", out _));

        var shipped = await client.RequestAsync("order.shipped", new { orderId = "o-9", boxes = 3 });
        Assert.Equal("o-9:3", shipped.GetProperty("data").GetString());
    }

    [Fact]
    public async Task Push_messages_have_a_generated_name_and_serializer()
    {
        await using var client = await ShopperAsync("pusher");
        await client.RequestAsync("order.place", ValidOrder());
        await _server.Emitter.EmitAsync("orders:pusher", new OrderShipped("o-1", 2), cancellationToken: TestContext.Current.CancellationToken);

        var push = await client.ReceiveJsonAsync();
        Assert.Equal("order.shipped", push.GetProperty("name").GetString());
        Assert.Equal("o-1", push.GetProperty("data").GetProperty("orderId").GetString());
        Assert.Equal(2, push.GetProperty("data").GetProperty("boxes").GetInt32());
        Assert.True(push.TryGetProperty("timestamp", out var timestamp) && timestamp.ValueKind == JsonValueKind.Number);
        Assert.Equal("order.shipped", OrderShipped.MessageName);
    }
}
