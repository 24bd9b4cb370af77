using System.Net;
using System.Text.Json;
using Ori.Sockets.Tests.Infrastructure;

namespace Dashboard.Tests;

/// <summary>The Dashboard's recoverable project topics: subscribe.project with positions, and rooms a client may join to recover.</summary>
public sealed class RecoveryTests : IAsyncLifetime
{
    private DashboardServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await DashboardServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private async Task PostAsync(string title)
    {
        using var response = await _server.PostIncidentAsync("alice-token", $$"""{"projectId":"web","title":"{{title}}","severity":"high","monitorId":"checkout"}""");
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task Subscribe_project_recovers_each_topic_from_the_position_sent_and_says_so()
    {
        JsonElement incidents;
        await using (var first = await _server.ConnectAsync("bob-token"))
        {
            var reply = (await first.AskAsync("subscribe.project", new { projectId = "web" }, "s1")).GetProperty("data");
            incidents = reply.GetProperty("incidents");
            Assert.Equal("incidents:acme:web", incidents.GetProperty("topic").GetString());
            Assert.False(incidents.GetProperty("recovered").GetBoolean());
            Assert.Equal("monitors:acme:web", reply.GetProperty("monitors").GetProperty("topic").GetString());
        }

        // Missed while away.
        await PostAsync("one");
        await PostAsync("two");

        await using var again = await _server.ConnectAsync("bob-token");
        var position = new { epoch = incidents.GetProperty("epoch").GetString(), offset = incidents.GetProperty("offset").GetInt64() };
        await again.SendJsonAsync(new { type = "subscribe.project", data = new { projectId = "web", incidents = position }, correlationId = "s2" });

        // The missed pushes, in order, then the reply (the route answers after it subscribed).
        var titles = new List<string>();
        JsonElement answer;
        while (true)
        {
            var message = await again.NextAsync(m => m.TryGetProperty("correlationId", out _) || (m.TryGetProperty("name", out var n) && n.GetString() == "incident.created"));
            if (message.TryGetProperty("correlationId", out _))
            {
                answer = message.GetProperty("data");
                break;
            }

            titles.Add(message.GetProperty("data").GetProperty("title").GetString()!);
            Assert.Equal("incidents:acme:web", message.GetProperty("topic").GetString());
        }

        Assert.Equal(["one", "two"], titles);
        Assert.True(answer.GetProperty("incidents").GetProperty("recovered").GetBoolean());
        Assert.Equal(position.offset + 2, answer.GetProperty("incidents").GetProperty("offset").GetInt64());
        Assert.False(answer.GetProperty("monitors").GetProperty("recovered").GetBoolean(), "no position was sent for monitors");
    }

    [Fact]
    public async Task A_malformed_position_is_refused_with_its_path_and_subscribes_nothing()
    {
        await using var bob = await _server.ConnectAsync("bob-token");
        var refused = await bob.AskAsync("subscribe.project", new { projectId = "web", monitors = new { epoch = "", offset = -1 } }, "s1");
        Assert.Equal("validation_failed", refused.GetProperty("error").GetString());
        var paths = refused.GetProperty("details").EnumerateArray().Select(d => d.GetProperty("path").GetString()).ToHashSet();
        Assert.Contains("$.data.monitors.epoch", paths);
        Assert.Contains("$.data.monitors.offset", paths);
        var stats = await _server.StatsAsync("alice-token");
        Assert.False(stats.GetProperty("topics").TryGetProperty("monitors:acme:web", out _), "a refused subscription subscribed");
    }

    [Fact]
    public async Task A_client_may_join_and_recover_its_own_accounts_project_topics_but_another_accounts_reveal_nothing()
    {
        await using var bob = await _server.ConnectAsync("bob-token");
        var joined = (await bob.AskAsync("room.join", new { room = "incidents:acme:web" }, "j1")).GetProperty("data");
        var epoch = joined.GetProperty("epoch").GetString();
        var offset = joined.GetProperty("offset").GetInt64();
        await bob.AskAsync("room.leave", new { room = "incidents:acme:web" }, "l1");
        await PostAsync("missed");
        var recovered = (await bob.AskAsync("room.join", new { room = "incidents:acme:web", recover = new { epoch, offset } }, "j2")).GetProperty("data");
        Assert.True(recovered.GetProperty("recovered").GetBoolean());
        Assert.Equal("missed", (await bob.NextPushAsync("incident.created")).GetProperty("data").GetProperty("title").GetString());

        await using var eve = await _server.ConnectAsync("eve-token");
        var forbidden = await eve.AskAsync("room.join", new { room = "incidents:acme:web", recover = new { epoch, offset = 0 } }, "j3");
        Assert.Equal("forbidden", forbidden.GetProperty("error").GetString());
        Assert.False(forbidden.TryGetProperty("data", out _));
        Assert.DoesNotContain(epoch!, forbidden.ToString(), StringComparison.Ordinal);
        await eve.AssertNoPushAsync("incident.created", TimeSpan.FromMilliseconds(300));
    }
}
