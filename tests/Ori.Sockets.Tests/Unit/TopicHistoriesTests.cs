using Microsoft.Extensions.Time.Testing;
using Ori.Sockets.PubSub;

namespace Ori.Sockets.Tests.Unit;

public sealed class TopicHistoriesTests
{
    [Fact]
    public void Pushes_past_their_age_are_dropped_by_the_sweep_and_an_idle_empty_topic_is_forgotten_after_a_day()
    {
        var time = new FakeTimeProvider();
        using var histories = new TopicHistories([RecoverableTopic.Create("feed*", 10, TimeSpan.FromMinutes(2))], time);
        Assert.True(histories.TryGet("feed-1", out var history));
        lock (history.Lock)
        {
            history.Append(SocketFrame.Text("""{"name":"n","data":1}"""));
            history.Append(SocketFrame.Text("""{"name":"n","data":2}"""));
        }

        // Kept while younger than two minutes; nobody publishes again, and the sweep (every minute) drops them after.
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(2, Replay(history)?.Count);
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.Null(Replay(history));

        // The topic itself (epoch and offset) is kept for a day, then forgotten: a later join finds a new epoch.
        Assert.Equal(1, histories.Count);
        time.Advance(TimeSpan.FromHours(23));
        Assert.Equal(1, histories.Count);
        time.Advance(TimeSpan.FromHours(2));
        Assert.Equal(0, histories.Count);
        Assert.True(histories.TryGet("feed-1", out var again));
        Assert.NotEqual(history.Epoch, again.Epoch);
    }

    [Fact]
    public void A_plain_topic_publish_allocates_nothing_when_other_topics_are_recoverable()
    {
        var time = new FakeTimeProvider();
        using var histories = new TopicHistories([RecoverableTopic.Create("feed*", 10, null), RecoverableTopic.Create("orders", 10, null)], time);
        var provider = new InProcessSocketProvider(new SocketHub(), time, histories);
        var frame = SocketFrame.Text("""{"name":"n","data":1}""");
        for (var i = 0; i < 100; i++)
        {
            Assert.True(Completed(provider.PublishAsync("plain", frame, cancellationToken: TestContext.Current.CancellationToken)));
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            Assert.True(Completed(provider.PublishAsync("plain", frame, cancellationToken: TestContext.Current.CancellationToken)));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(0, histories.Count);
    }

    private static bool Completed(ValueTask task) => task.IsCompletedSuccessfully;

    private static List<SocketFrame>? Replay(TopicHistories.History history)
    {
        lock (history.Lock)
        {
            return history.After(history.Epoch, 0);
        }
    }
}
