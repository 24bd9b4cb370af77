using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Ori.Sockets.Connections;
using Ori.Sockets.PubSub;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.Unit;

/// <summary>The process-wide outbound budget: publishers wait past it, go on at half of it, and shed after their wait.</summary>
public sealed class OutboundBudgetTests
{
    [Fact]
    public async Task A_publisher_waits_past_the_budget_until_the_writers_bring_it_back_to_half()
    {
        var time = new FakeTimeProvider();
        var budget = new OutboundBudget(1000, TimeSpan.FromSeconds(5));
        budget.Change(900);
        Assert.True(IsImmediate(budget.WaitAsync(time, TestContext.Current.CancellationToken)));

        budget.Change(200);
        var waiting = budget.WaitAsync(time, TestContext.Current.CancellationToken).AsTask();
        budget.Change(-400);
        await Task.Delay(100, TestContext.Current.CancellationToken);
        Assert.False(waiting.IsCompleted, "under the budget but above half: the publisher still waits");

        budget.Change(-200);
        await waiting.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal(500, budget.Queued);
    }

    private static bool IsImmediate(ValueTask wait) => wait.IsCompletedSuccessfully;

    [Fact]
    public async Task The_budget_grows_to_each_connections_share_lets_a_waiting_publisher_go_and_shrinks_back()
    {
        var time = new FakeTimeProvider();
        var budget = new OutboundBudget(1000, TimeSpan.FromSeconds(5), perConnection: 400);
        budget.Change(1500);
        var waiting = budget.WaitAsync(time, TestContext.Current.CancellationToken).AsTask();
        for (var i = 0; i < 3; i++)
        {
            budget.Opened();
        }

        // 3 × 400 = 1,200: grown, and still over.
        Assert.Equal(1200, budget.Limit);
        await Task.Delay(100, TestContext.Current.CancellationToken);
        Assert.False(waiting.IsCompleted, "1,500 bytes wait against a budget of 1,200: the publisher still waits");

        for (var i = 0; i < 5; i++)
        {
            budget.Opened();
        }

        // 8 × 400 = 3,200: 1,500 is under half of it, the publisher goes on.
        Assert.Equal(3200, budget.Limit);
        await waiting.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        for (var i = 0; i < 8; i++)
        {
            budget.Closed();
        }

        Assert.Equal(1000, budget.Limit);
        Assert.True(budget.IsOver);
    }

    [Fact]
    public void Without_a_share_per_connection_or_without_a_budget_connections_change_nothing()
    {
        var fixedBudget = new OutboundBudget(1000, TimeSpan.FromSeconds(5));
        var off = new OutboundBudget(0, TimeSpan.FromSeconds(5), perConnection: 400);
        for (var i = 0; i < 10; i++)
        {
            fixedBudget.Opened();
            off.Opened();
        }

        Assert.Equal(1000, fixedBudget.Limit);
        Assert.Equal(0, off.Limit);
        off.Change(1_000_000);
        Assert.False(off.IsOver);
    }

    [Fact]
    public async Task Every_open_socket_on_a_server_adds_its_share_and_a_closed_one_takes_it_back()
    {
        await using var server = await TestServer.StartAsync(options: o =>
        {
            o.OutboundBudget = 1024 * 1024;
            o.OutboundBudgetPerConnection = 512 * 1024;
        });
        var budget = server.Services.GetRequiredService<OutboundBudget>();
        Assert.Equal(1024 * 1024, budget.Limit);

        var clients = new List<TestClient>();
        for (var i = 0; i < 3; i++)
        {
            var client = await server.ConnectAsync();
            await client.ReadyAsync();
            clients.Add(client);
        }

        Assert.Equal(3 * 512 * 1024, budget.Limit);
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }

        await Eventually.TrueAsync(() => budget.Limit == 1024 * 1024);
    }

    [Fact]
    public void Under_the_budget_a_publish_allocates_nothing_for_it()
    {
        var hub = new SocketHub(time: TimeProvider.System) { Budget = new OutboundBudget(1024 * 1024, TimeSpan.FromSeconds(5)) };
        var provider = new InProcessSocketProvider(hub, TimeProvider.System);
        var frame = SocketFrame.Text("""{"name":"n","data":1}""");
        for (var i = 0; i < 100; i++)
        {
            Assert.True(IsImmediate(provider.BroadcastAsync(frame, cancellationToken: TestContext.Current.CancellationToken)));
            Assert.True(IsImmediate(provider.PublishAsync("t", frame, cancellationToken: TestContext.Current.CancellationToken)));
            Assert.True(IsImmediate(provider.SendToUserAsync("u", frame, cancellationToken: TestContext.Current.CancellationToken)));
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            IsImmediate(provider.BroadcastAsync(frame, cancellationToken: TestContext.Current.CancellationToken));
            IsImmediate(provider.PublishAsync("t", frame, cancellationToken: TestContext.Current.CancellationToken));
            IsImmediate(provider.SendToUserAsync("u", frame, cancellationToken: TestContext.Current.CancellationToken));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public async Task A_publisher_that_waited_its_whole_time_sheds_the_consumers_that_hold_the_most()
    {
        var time = new FakeTimeProvider();
        var budget = new OutboundBudget(1000, TimeSpan.FromSeconds(5));
        var shedTo = new List<long>();
        budget.Shed = target =>
        {
            shedTo.Add(target);
            budget.Change(-800);
            return 1;
        };
        budget.Change(1200);
        var waiting = budget.WaitAsync(time, TestContext.Current.CancellationToken).AsTask();
        time.Advance(TimeSpan.FromSeconds(4));
        await Task.Delay(100, TestContext.Current.CancellationToken);
        Assert.False(waiting.IsCompleted);
        Assert.Empty(shedTo);

        time.Advance(TimeSpan.FromSeconds(1));
        await waiting.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal([500], shedTo);
        Assert.Equal(400, budget.Queued);
    }

    [Fact]
    public async Task A_burst_to_sockets_that_do_not_drain_stops_at_the_budget_and_goes_on_as_they_drain()
    {
        var budget = new OutboundBudget(64 * 1024, TimeSpan.FromMinutes(1));
        var hub = new SocketHub(time: TimeProvider.System) { Budget = budget };
        var provider = new InProcessSocketProvider(hub, TimeProvider.System);
        var streams = new List<OutboundQueueTests.GatedStream>();
        for (var i = 0; i < 3; i++)
        {
            var stream = new OutboundQueueTests.GatedStream();
            streams.Add(stream);
            var connection = new SocketConnection($"s{i}", stream, new ConnectionLimits(64 * 1024, 1024 * 1024, TimeSpan.FromSeconds(5)), TimeProvider.System, NullLogger.Instance, static () => { }, static _ => { }, budget);
            hub.Add(connection, null);
            hub.Subscribe(connection.Id, "burst");
        }

        // ~1 KB per push and socket. Each writer takes its first batch (at most 16 KB, then counted as in flight, not
        // queued) and holds it in a write that does not end: the pushes pile up to the budget and stop there.
        var frame = SocketFrame.Text($$"""{"name":"n","data":"{{new string('x', 1000)}}"}""");
        var published = 0;
        var peak = 0L;
        Task? stuck = null;
        while (stuck is null && published < 1000)
        {
            var publish = provider.PublishAsync("burst", frame, cancellationToken: TestContext.Current.CancellationToken).AsTask();
            peak = Math.Max(peak, budget.Queued);
            if (!publish.IsCompleted && await Task.WhenAny(publish, Task.Delay(300, TestContext.Current.CancellationToken)) != publish)
            {
                stuck = publish;
                break;
            }

            published++;
        }

        // Without the budget all 1,000 would be queued (3 MB); with it, what 64 KB and three in-flight batches hold.
        Assert.NotNull(stuck);
        Assert.InRange(published, 20, (64 + (3 * 16)) / 3);
        Assert.InRange(peak, budget.Limit, budget.Limit + (3 * frame.Length));

        foreach (var stream in streams)
        {
            stream.Open();
        }

        await stuck.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        await Eventually.TrueAsync(() => budget.Queued == 0);
    }
}
