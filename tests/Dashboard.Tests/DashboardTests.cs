using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Ori.Sockets.Tests.Infrastructure;

namespace Dashboard.Tests;

public sealed class DashboardTests : IAsyncLifetime
{
    private static readonly TimeSpan s_quiet = TimeSpan.FromMilliseconds(300);
    private DashboardServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await DashboardServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("")]
    [InlineData("?token=nobody")]
    public async Task Missing_or_unknown_token_is_refused_with_1008(string query)
    {
        await using var client = await TestClient.ConnectAsync(new Uri($"ws://{_server.HttpUri.Authority}/ws{query}"));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.WaitForCloseAsync());
    }

    [Fact]
    public async Task Users_of_one_account_see_each_others_presence_and_other_accounts_do_not()
    {
        await using var alice = await _server.ConnectAsync("alice-token");
        await using var eve = await _server.ConnectAsync("eve-token");
        await using var bob = await _server.ConnectAsync("bob-token");

        // Bob is told who is already online; Alice is told that Bob came online.
        await bob.NextPushAsync("presence.changed", d => d.GetProperty("userId").GetString() == "alice" && d.GetProperty("status").GetString() == "active");
        await alice.NextPushAsync("presence.changed", d => d.GetProperty("userId").GetString() == "bob");

        var reply = await alice.AskAsync("presence.update", new { status = "idle" }, "p1");
        Assert.True(reply.GetProperty("data").GetProperty("updated").GetBoolean());
        await bob.NextPushAsync("presence.changed", d => d.GetProperty("userId").GetString() == "alice" && d.GetProperty("status").GetString() == "idle");
        await eve.AssertNoPushAsync("presence.changed", s_quiet, d => d.GetProperty("userId").GetString() != "eve");
    }

    [Fact]
    public async Task A_user_whose_last_socket_closes_goes_offline()
    {
        await using var alice = await _server.ConnectAsync("alice-token");
        var bob = await _server.ConnectAsync("bob-token");
        await alice.NextPushAsync("presence.changed", d => d.GetProperty("userId").GetString() == "bob");
        await bob.DisposeAsync();
        await alice.NextPushAsync("presence.changed", d => d.GetProperty("userId").GetString() == "bob" && d.GetProperty("status").GetString() == "offline");
    }

    [Theory]
    [InlineData("busy")]
    [InlineData("")]
    public async Task Presence_status_outside_the_allowed_values_is_refused(string status)
    {
        await using var alice = await _server.ConnectAsync("alice-token");
        var reply = await alice.AskAsync("presence.update", new { status }, "v1");
        Assert.Equal("validation_failed", reply.GetProperty("error").GetString());
        Assert.Equal("$.data.status", reply.GetProperty("details")[0].GetProperty("path").GetString());
    }

    [Fact]
    public async Task Clients_may_join_their_own_account_room_only()
    {
        await using var eve = await _server.ConnectAsync("eve-token");
        var refused = await eve.AskAsync("room.join", new { room = "account:acme" }, "j1");
        Assert.Equal("forbidden", refused.GetProperty("error").GetString());
        var allowed = await eve.AskAsync("room.join", new { room = "account:globex" }, "j2");
        Assert.False(allowed.TryGetProperty("error", out _), allowed.ToString());
    }

    [Fact]
    public async Task Subscribe_project_replies_and_checks_the_project_id()
    {
        await using var alice = await _server.ConnectAsync("alice-token");
        var reply = await alice.AskAsync("subscribe.project", new { projectId = "web" }, "s1");
        Assert.True(reply.GetProperty("data").GetProperty("subscribed").GetBoolean());
        Assert.Equal("web", reply.GetProperty("data").GetProperty("projectId").GetString());

        foreach (var bad in new[] { "", new string('p', 65), "a b", "x*y", "line\nbreak" })
        {
            var refused = await alice.AskAsync("subscribe.project", new { projectId = bad }, "s2");
            Assert.Equal("validation_failed", refused.GetProperty("error").GetString());
            Assert.Equal("$.data.projectId", refused.GetProperty("details")[0].GetProperty("path").GetString());
        }
    }

    [Fact]
    public async Task An_incident_reaches_subscribers_of_its_project_in_its_account_only()
    {
        await using var bob = await _server.ConnectAsync("bob-token");
        await using var eve = await _server.ConnectAsync("eve-token");
        await bob.AskAsync("subscribe.project", new { projectId = "web" }, "s1");
        await eve.AskAsync("subscribe.project", new { projectId = "web" }, "s1");

        using var response = await _server.PostIncidentAsync("alice-token", """{"projectId":"web","title":"Checkout is down","severity":"critical","monitorId":"checkout"}""");
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var incident = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement;
        var id = incident.GetProperty("id").GetString();
        Assert.Equal("acme", incident.GetProperty("accountId").GetString());

        var push = await bob.NextPushAsync("incident.created");
        var data = push.GetProperty("data");
        Assert.Equal(id, data.GetProperty("id").GetString());
        Assert.Equal("Checkout is down", data.GetProperty("title").GetString());
        Assert.Equal("critical", data.GetProperty("severity").GetString());
        Assert.Equal("checkout", data.GetProperty("monitorId").GetString());
        await eve.AssertNoPushAsync("incident.created", s_quiet);
    }

    [Fact]
    public async Task Incidents_need_a_valid_token_and_a_valid_body()
    {
        using var anonymous = await _server.PostIncidentAsync(null, """{"projectId":"web","title":"x","severity":"low","monitorId":"m"}""");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using var unknown = await _server.PostIncidentAsync("nobody", """{"projectId":"web","title":"x","severity":"low","monitorId":"m"}""");
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);

        using var invalid = await _server.PostIncidentAsync("alice-token", """{"projectId":"","title":"x","severity":"low"}""");
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Equal("application/problem+json", invalid.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await invalid.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement;
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("$.projectId", out _), problem.ToString());
        Assert.True(errors.TryGetProperty("$.monitorId", out _), problem.ToString());

        using var malformed = await _server.PostIncidentAsync("alice-token", "{not json");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
    }

    [Fact]
    public async Task Stats_count_connections_and_only_the_callers_account_topics()
    {
        await using var alice = await _server.ConnectAsync("alice-token");
        await using var bob = await _server.ConnectAsync("bob-token");
        await using var eve = await _server.ConnectAsync("eve-token");
        await alice.AskAsync("subscribe.project", new { projectId = "web" }, "s1");
        await eve.AskAsync("subscribe.project", new { projectId = "web" }, "s1");

        var stats = await _server.StatsAsync("alice-token");
        Assert.Equal(3, stats.GetProperty("connections").GetInt32());
        var topics = stats.GetProperty("topics").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        Assert.Equal(2, topics["account:acme"]);
        Assert.Equal(1, topics["monitors:acme:web"]);
        Assert.Equal(1, topics["incidents:acme:web"]);
        Assert.DoesNotContain(topics.Keys, t => t.Contains("globex", StringComparison.Ordinal));

        using var anonymous = await _server.Http.GetAsync(new Uri("/api/stats", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task The_page_is_served_at_the_root()
    {
        var html = await _server.Http.GetStringAsync(new Uri("/", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Contains("dashboard.js", html, StringComparison.Ordinal);
        var script = await _server.Http.GetStringAsync(new Uri("/dashboard.js", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Contains("subscribe.project", script, StringComparison.Ordinal);

        // The browser client it imports is served by Ori.Sockets itself, with its typings.
        using var module = await _server.Http.GetAsync(new Uri("/_ori/ori-sockets-client.js", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, module.StatusCode);
        Assert.Equal("text/javascript", module.Content.Headers.ContentType?.MediaType);
        Assert.Contains("export class OriSocketClient", await module.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        var typings = await _server.Http.GetStringAsync(new Uri("/_ori/ori-sockets-client.d.ts", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Contains("export declare class OriSocketClient", typings, StringComparison.Ordinal);

        using var again = new HttpRequestMessage(HttpMethod.Get, "/_ori/ori-sockets-client.js");
        again.Headers.TryAddWithoutValidation("If-None-Match", module.Headers.ETag!.Tag);
        using var notModified = await _server.Http.SendAsync(again, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }
}

public sealed class SimulatorTests
{
    [Fact]
    public async Task The_simulator_pushes_monitor_status_changes_to_project_subscribers()
    {
        await using var server = await DashboardServer.StartAsync(simulatorSeconds: 0.05);
        await using var alice = await server.ConnectAsync("alice-token");
        await alice.AskAsync("subscribe.project", new { projectId = "web" }, "s1");

        var push = await alice.NextPushAsync("monitor.status_changed");
        var data = push.GetProperty("data");
        Assert.Contains(data.GetProperty("monitorId").GetString(), new[] { "homepage", "checkout", "login" });
        Assert.NotEqual(data.GetProperty("previousStatus").GetString(), data.GetProperty("currentStatus").GetString());
        Assert.True(data.GetProperty("checkedAt").TryGetDateTimeOffset(out _));
    }

    [Theory]
    [InlineData(3, true)]
    [InlineData(0, false)]
    public async Task Zero_turns_the_simulator_off(double seconds, bool pushes)
    {
        // The simulator's clock is the application's: 30 s pass at once (less than the idle timeout, which runs
        // on the same clock). An interval of 0 taken as "the default" (3 s) or as "no delay" would push; 3 s,
        // the control, does.
        var time = new FakeTimeProvider();
        await using var server = await DashboardServer.StartAsync(simulatorSeconds: seconds, time: time);
        await using var alice = await server.ConnectAsync("alice-token");
        await alice.AskAsync("subscribe.project", new { projectId = "web" }, "s1");
        time.Advance(TimeSpan.FromSeconds(30));
        if (pushes)
        {
            await alice.NextPushAsync("monitor.status_changed");
        }
        else
        {
            await alice.AssertNoPushAsync("monitor.status_changed", TimeSpan.FromMilliseconds(500));
        }
    }
}
