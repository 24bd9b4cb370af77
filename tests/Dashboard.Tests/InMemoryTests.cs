using Dashboard.Contracts;
using Microsoft.AspNetCore.Mvc.Testing;
using Ori.Sockets.Client;
using Ori.Sockets.Testing;

namespace Dashboard.Tests;

/// <summary>
/// The Dashboard's real Program in memory with Ori.Sockets.Testing: typed clients without a port, and the fake clock
/// drives the monitor simulator, so its pushes come exactly when the test moves time on.
/// </summary>
public sealed class InMemoryTests
{
    [Fact]
    public async Task Monitor_changes_reach_a_subscribed_user_when_the_clock_moves_and_not_before()
    {
        await using var factory = new WebApplicationFactory<Program>();
        await using var host = OriSocketsTestHost.Start(factory);
        var alice = await host.ConnectAsync("/ws?token=alice-token", cancellationToken: TestContext.Current.CancellationToken);
        using var changes = alice.Record<MonitorStatusChanged>();

        var subscribed = await alice.RequestAsync(new SubscribeProject("web"), TestContext.Current.CancellationToken);
        Assert.Equal("monitors:acme:web", subscribed.Monitors.Topic);
        await changes.ExpectNoneAsync(TimeSpan.FromMilliseconds(500), TestContext.Current.CancellationToken);

        host.Time.Advance(TimeSpan.FromSeconds(3));
        var change = await changes.NextAsync(cancellationToken: TestContext.Current.CancellationToken);
        Assert.Contains(change.MonitorId, new[] { "homepage", "checkout", "login" });
        Assert.Equal(host.Time.GetUtcNow(), change.CheckedAt);
        Assert.NotEqual(change.PreviousStatus, change.CurrentStatus);
    }

    [Fact]
    public async Task Presence_reaches_the_same_account_only()
    {
        await using var factory = new WebApplicationFactory<Program>();
        await using var host = OriSocketsTestHost.Start(factory);
        var alice = await host.ConnectAsync("/ws?token=alice-token", cancellationToken: TestContext.Current.CancellationToken);
        var bob = await host.ConnectAsync("/ws?token=bob-token", cancellationToken: TestContext.Current.CancellationToken);
        var eve = await host.ConnectAsync("/ws?token=eve-token", cancellationToken: TestContext.Current.CancellationToken);
        await bob.JoinRoomAsync("account:acme", TestContext.Current.CancellationToken);
        await eve.JoinRoomAsync("account:globex", TestContext.Current.CancellationToken);
        using var toBob = bob.Record<PresenceChanged>();
        using var toEve = eve.Record<PresenceChanged>();

        Assert.True((await alice.RequestAsync(new PresenceUpdate("away"), TestContext.Current.CancellationToken)).Updated);
        Assert.Equal(new PresenceChanged("alice", "away"), await toBob.NextAsync(cancellationToken: TestContext.Current.CancellationToken));
        await toEve.ExpectNoneAsync(TimeSpan.FromMilliseconds(300), TestContext.Current.CancellationToken);
        await Assert.ThrowsAsync<OriSocketErrorException>(() => eve.JoinRoomAsync("account:acme", TestContext.Current.CancellationToken));
    }
}
