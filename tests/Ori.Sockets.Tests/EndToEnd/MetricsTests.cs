using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

/// <summary>The meter Ori.Sockets, read with MetricCollector from a real server.</summary>
[Collection(nameof(AdversarialTests))]
public sealed class MetricsTests
{
    [Fact]
    public async Task Connections_closes_by_code_deliveries_and_queued_bytes_are_measured()
    {
        await using var server = await TestServer.StartAsync(sockets: s => s.AddRoomRule((_, _) => true));
        var meters = server.Services.GetRequiredService<IMeterFactory>();
        using var connections = new MetricCollector<long>(meters, "Ori.Sockets", "ori.sockets.connections");
        using var closed = new MetricCollector<long>(meters, "Ori.Sockets", "ori.sockets.connections.closed");
        using var deliveries = new MetricCollector<long>(meters, "Ori.Sockets", "ori.sockets.publish.deliveries");
        using var queued = new MetricCollector<long>(meters, "Ori.Sockets", "ori.sockets.outbound.queued");

        await using var one = await server.ConnectAsync();
        await one.ReadyAsync();
        var two = await server.ConnectAsync();
        await two.ReadyAsync();
        await Eventually.TrueAsync(() => connections.GetMeasurementSnapshot().Sum(m => m.Value) == 2);

        await one.RequestAsync("room.join", new { room = "news" }, "j1");
        await two.RequestAsync("room.join", new { room = "news" }, "j2");
        await server.Emitter.PublishAsync("news", """{"name":"n","data":1,"timestamp":1}""", cancellationToken: TestContext.Current.CancellationToken);
        await one.ReceiveJsonAsync();
        Assert.Equal(2, deliveries.GetMeasurementSnapshot().Sum(m => m.Value));

        // A normal close from the client: one fewer connection, one close with its code.
        await two.DisposeAsync();
        await Eventually.TrueAsync(() => connections.GetMeasurementSnapshot().Sum(m => m.Value) == 1);
        var close = Assert.Single(closed.GetMeasurementSnapshot());
        Assert.Equal(1000, close.Tags["ori.close_code"]);

        queued.RecordObservableInstruments();
        Assert.True(queued.LastMeasurement!.Value >= 0);
    }

    [Fact]
    public async Task Messages_are_counted_by_route_and_outcome_with_replies_and_handler_durations_and_unknown_types_share_one_tag()
    {
        await using var server = await TestServer.StartAsync(sockets: s => s.AddRoomRule((_, room) => room != "secret"));
        var meters = server.Services.GetRequiredService<IMeterFactory>();
        using var received = new MetricCollector<long>(meters, "Ori.Sockets", "ori.sockets.messages.received");
        using var sent = new MetricCollector<long>(meters, "Ori.Sockets", "ori.sockets.messages.sent");
        using var duration = new MetricCollector<double>(meters, "Ori.Sockets", "ori.sockets.handler.duration");

        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        await client.RequestAsync("room.join", new { room = "news" }, "a");
        await client.RequestAsync("room.join", new { room = "secret" }, "b");
        await client.RequestAsync("room.join", new { }, "c");
        await client.RequestAsync("no.such.route", new { }, "d");
        await client.RequestAsync("another.unknown", new { }, "e");
        await client.SendAsync("not json");
        await client.ReceiveJsonAsync();

        await Eventually.TrueAsync(() => received.GetMeasurementSnapshot().Count == 6);
        var counts = received.GetMeasurementSnapshot()
            .GroupBy(m => ((string)m.Tags["ori.route"]!, (string)m.Tags["ori.outcome"]!))
            .ToDictionary(g => g.Key, g => g.Sum(m => m.Value));
        Assert.Equal(1, counts[("room.join", "ok")]);
        Assert.Equal(1, counts[("room.join", "forbidden")]);
        Assert.Equal(1, counts[("room.join", "validation_failed")]);
        Assert.Equal(2, counts[("unknown", "unknown_type")]);
        Assert.Equal(1, counts[("unknown", "bad_request")]);
        Assert.Equal(6, sent.GetMeasurementSnapshot().Where(m => (string)m.Tags["ori.kind"]! == "reply").Sum(m => m.Value));
        Assert.Equal(6, duration.GetMeasurementSnapshot().Count);
        Assert.All(duration.GetMeasurementSnapshot(), m => Assert.InRange(m.Value, 0, 10));
    }
}
