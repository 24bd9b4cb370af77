using System.Net;
using Ori.Sockets.Tests.Infrastructure;

namespace Dashboard.Tests;

/// <summary>
/// GET /metrics: the Dashboard's OpenTelemetry metrics, Prometheus text, Ori.Sockets' instruments among them. Runs alone:
/// OpenTelemetry listens to every meter of a name in the process, so another Dashboard in this test process would be counted too.
/// </summary>
[Collection(nameof(ChaosTests))]
public sealed class MetricsEndpointTests
{
    [Fact]
    public async Task Prometheus_reads_the_connections_and_the_messages_by_route_and_outcome()
    {
        await using var server = await DashboardServer.StartAsync();
        await using var alice = await server.ConnectAsync("alice-token");
        await alice.AskAsync("presence.update", new { status = "idle" }, "p1");
        await alice.AskAsync("presence.update", new { status = "busy" }, "p2");

        string text = string.Empty;
        await Eventually.TrueAsync(async () =>
        {
            using var response = await server.Http.GetAsync(new Uri("/metrics", UriKind.Relative), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            return text.Contains("ori_sockets_messages_received", StringComparison.Ordinal);
        });
        TestContext.Current.TestOutputHelper?.WriteLine(text);

        var lines = text.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("ori_sockets_connections", StringComparison.Ordinal) && l.EndsWith(" 1", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("ori_sockets_messages_received", StringComparison.Ordinal) && l.Contains("ori_route=\"presence.update\"", StringComparison.Ordinal) && l.Contains("ori_outcome=\"ok\"", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("ori_sockets_messages_received", StringComparison.Ordinal) && l.Contains("ori_outcome=\"validation_failed\"", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("ori_sockets_handler_duration", StringComparison.Ordinal));
    }
}
