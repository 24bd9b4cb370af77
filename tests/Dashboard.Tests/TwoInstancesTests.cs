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

    [Fact]
    public async Task A_note_to_a_user_reaches_each_of_their_sockets_on_both_instances_once()
    {
        await using var bobHere = await _one.ConnectAsync("bob-token");
        await using var bobThere = await _two.ConnectAsync("bob-token");
        await using var alice = await _two.ConnectAsync("alice-token");

        using var accepted = await _one.PostAsync("/api/users/bob/notify", "alice-token", """{"text":"Standup in 5"}""");
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        foreach (var socket in new[] { bobHere, bobThere })
        {
            var push = await socket.NextPushAsync("notification");
            Assert.Equal("alice", push.GetProperty("data").GetProperty("from").GetString());
            Assert.Equal("Standup in 5", push.GetProperty("data").GetProperty("text").GetString());
            await socket.AssertNoPushAsync("notification", TimeSpan.FromMilliseconds(300));
        }

        await alice.AssertNoPushAsync("notification", TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task Notes_and_disconnects_are_refused_for_bad_input_and_other_accounts_and_change_nothing()
    {
        await using var bob = await _two.ConnectAsync("bob-token");
        await using var eve = await _two.ConnectAsync("eve-token");
        Assert.Equal(HttpStatusCode.Unauthorized, (await _one.PostAsync("/api/users/bob/notify", null, """{"text":"hi"}""")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _one.PostAsync("/api/users/eve/notify", "alice-token", """{"text":"hi"}""")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _one.PostAsync("/api/users/nobody/notify", "alice-token", """{"text":"hi"}""")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _one.PostAsync("/api/users/eve/disconnect", "alice-token", "{}")).StatusCode);
        foreach (var body in new[] { """{"text":""}""", "{}", "not json", $$"""{"text":"{{new string('x', 501)}}"}""" })
        {
            using var response = await _one.PostAsync("/api/users/bob/notify", "alice-token", body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        await bob.AssertNoPushAsync("notification", TimeSpan.FromMilliseconds(300));
        await eve.AssertNoPushAsync("notification", TimeSpan.FromMilliseconds(300));
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, eve.Socket.State);
    }

    [Fact]
    public async Task Disconnecting_a_user_closes_their_sockets_on_both_instances_with_1008()
    {
        await using var bobHere = await _one.ConnectAsync("bob-token");
        await using var bobThere = await _two.ConnectAsync("bob-token");
        await using var alice = await _two.ConnectAsync("alice-token");

        using var accepted = await _one.PostAsync("/api/users/bob/disconnect", "alice-token", "{}");
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.PolicyViolation, await bobHere.WaitForCloseAsync());
        Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.PolicyViolation, await bobThere.WaitForCloseAsync());
        Assert.Equal("Disconnected by alice", bobThere.CloseDescription);
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, alice.Socket.State);
    }

    [Fact]
    public async Task Who_is_online_is_the_same_from_either_instance_and_per_account()
    {
        await using var alice = await _one.ConnectAsync("alice-token");
        await using var bobHere = await _one.ConnectAsync("bob-token");
        await using var bobThere = await _two.ConnectAsync("bob-token");
        await using var eve = await _two.ConnectAsync("eve-token");
        await alice.AskAsync("presence.update", new { status = "idle" }, "p1");

        List<(string, string, int)> expected = [("alice", "idle", 1), ("bob", "active", 2)];
        foreach (var server in new[] { _one, _two })
        {
            await Eventually.TrueAsync(async () => (await server.PresenceAsync("alice-token")).Users.SequenceEqual(expected));
        }

        Assert.Equal([("eve", "active", 1)], (await _one.PresenceAsync("eve-token")).Users);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _one.PresenceAsync(null)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _one.PresenceAsync("wrong-token")).Status);
    }
}
