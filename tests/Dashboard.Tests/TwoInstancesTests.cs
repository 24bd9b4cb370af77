using System.Net;
using Ori.Sockets.Tests.Infrastructure;

namespace Dashboard.Tests;

/// <summary>Two Dashboard instances on two ports with one Redis behave as one (ConnectionStrings:Redis).</summary>
public sealed class TwoInstancesTests : IAsyncLifetime
{
    private readonly string _prefix = "dash" + Guid.NewGuid().ToString("N")[..10];
    private DashboardServer _one = null!;
    private DashboardServer _two = null!;

    private static string Redis =>
        Environment.GetEnvironmentVariable("ORI_TEST_REDIS") is { Length: > 0 } endpoint
            ? endpoint
            : throw new InvalidOperationException("ORI_TEST_REDIS is not set: run the suite with scripts/test.sh, which starts a redis-server.");

    public async ValueTask InitializeAsync()
    {
        _one = await DashboardServer.StartAsync(redis: Redis, prefix: _prefix);
        _two = await DashboardServer.StartAsync(redis: Redis, prefix: _prefix);
    }

    public async ValueTask DisposeAsync()
    {
        await _one.DisposeAsync();
        await _two.DisposeAsync();
    }

    [Fact]
    public async Task Presence_crosses_instances()
    {
        await using var alice = await _one.ConnectAsync("alice-token");
        await using var bob = await _two.ConnectAsync("bob-token");

        // Bob, on the other instance, is told that Alice is online, and Alice hears that Bob came online.
        await bob.NextPushAsync("presence.changed", d => d.GetProperty("userId").GetString() == "alice");
        await alice.NextPushAsync("presence.changed", d => d.GetProperty("userId").GetString() == "bob");

        await alice.AskAsync("presence.update", new { status = "away" }, "p1");
        await bob.NextPushAsync("presence.changed", d => d.GetProperty("userId").GetString() == "alice" && d.GetProperty("status").GetString() == "away");
    }

    [Fact]
    public async Task An_incident_created_on_one_instance_reaches_its_project_on_the_other_only()
    {
        await using var bob = await _two.ConnectAsync("bob-token");
        await using var eve = await _two.ConnectAsync("eve-token");
        await bob.AskAsync("subscribe.project", new { projectId = "api" }, "s1");
        await eve.AskAsync("subscribe.project", new { projectId = "api" }, "s1");

        using var created = await _one.PostIncidentAsync("alice-token", """{"projectId":"api","title":"Payments slow","severity":"high","monitorId":"payments"}""");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        var push = await bob.NextPushAsync("incident.created");
        Assert.Equal("Payments slow", push.GetProperty("data").GetProperty("title").GetString());
        await eve.AssertNoPushAsync("incident.created", TimeSpan.FromMilliseconds(300));
    }
}
