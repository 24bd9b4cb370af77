using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.Unit;

/// <summary>The hub on its own, with recording sockets: membership, transitions and delivery.</summary>
public sealed class SocketHubTests
{
    private readonly SocketHub _hub = new();
    private readonly RecordingSocket _a = new("a");
    private readonly RecordingSocket _b = new("b");

    public SocketHubTests()
    {
        _hub.Add(_a);
        _hub.Add(_b);
    }

    [Fact]
    public void Subscriptions_report_the_first_and_last_local_subscriber()
    {
        Assert.Equal(SubscriptionChange.TopicActivated, _hub.Subscribe("a", "t"));
        Assert.Equal(SubscriptionChange.None, _hub.Subscribe("a", "t"));
        Assert.Equal(SubscriptionChange.Changed, _hub.Subscribe("b", "t"));
        Assert.Equal(2, _hub.GetSubscriberCount("t"));
        Assert.Equal(SubscriptionChange.Changed, _hub.Unsubscribe("a", "t"));
        Assert.Equal(SubscriptionChange.None, _hub.Unsubscribe("a", "t"));
        Assert.Equal(SubscriptionChange.TopicVacated, _hub.Unsubscribe("b", "t"));
        Assert.Equal(0, _hub.GetSubscriberCount("t"));
        Assert.Equal(SubscriptionChange.None, _hub.Subscribe("nobody", "t"));
        Assert.ThrowsAny<ArgumentException>(() => _hub.Subscribe("a", "not a topic"));
    }

    [Fact]
    public void A_topic_delivers_to_its_subscribers_but_the_one_left_out()
    {
        _hub.Subscribe("a", "t");
        _hub.Subscribe("b", "t");
        Assert.Equal(2, _hub.DeliverToTopic("t", SocketFrame.Text("1")));
        Assert.Equal(1, _hub.DeliverToTopic("t", SocketFrame.Text("2"), exceptSocketIds: ["a"]));
        Assert.Equal(0, _hub.DeliverToTopic("other", SocketFrame.Text("3")));
        Assert.Equal(["1"], _a.Texts);
        Assert.Equal(["1", "2"], _b.Texts);
    }

    [Fact]
    public void A_socket_that_refuses_is_not_counted()
    {
        _hub.Subscribe("a", "t");
        _hub.Subscribe("b", "t");
        _b.Refuse = true;
        Assert.Equal(1, _hub.DeliverToTopic("t", SocketFrame.Text("x")));
        Assert.Equal(1, _hub.DeliverToAll(SocketFrame.Text("y")));
    }

    [Fact]
    public void A_removed_socket_leaves_broadcasts_at_once_and_its_topics_when_released()
    {
        _hub.Subscribe("a", "t");
        _hub.Subscribe("a", "u");
        _hub.Subscribe("b", "u");
        _hub.Remove("a");
        Assert.False(_hub.Contains("a"));
        Assert.Equal(1, _hub.DeliverToAll(SocketFrame.Text("all")));
        Assert.False(_hub.DeliverToSocket("a", SocketFrame.Text("direct")));
        Assert.False(_hub.Disconnect("a"));

        // Until the provider releases them, its subscriptions still count (a backplane still holds them).
        Assert.Equal(1, _hub.GetSubscriberCount("t"));
        Assert.Equal(["t"], _hub.RemoveSubscriptions("a"));
        Assert.Equal(0, _hub.GetSubscriberCount("t"));
        Assert.Equal(1, _hub.GetSubscriberCount("u"));
        Assert.Empty(_hub.RemoveSubscriptions("a"));
        _hub.Forget("a");
    }

    [Fact]
    public void A_released_socket_cannot_subscribe_again()
    {
        Assert.Empty(_hub.RemoveSubscriptions("a"));
        Assert.Equal(SubscriptionChange.None, _hub.Subscribe("a", "t"));
        Assert.Equal(0, _hub.GetSubscriberCount("t"));
    }

    [Fact]
    public void Disconnect_closes_with_1000_and_direct_sends_reach_one_socket()
    {
        Assert.True(_hub.DeliverToSocket("b", SocketFrame.Text("only b")));
        Assert.Empty(_a.Texts);
        Assert.Equal(["only b"], _b.Texts);
        Assert.True(_hub.Disconnect("a"));
        Assert.Equal(1000, _a.CloseCode);
    }

    [Fact]
    public async Task Racing_subscribers_of_one_topic_end_with_membership_and_counts_that_agree()
    {
        var sockets = Enumerable.Range(0, 64).Select(i => new RecordingSocket("s" + i)).ToArray();
        foreach (var socket in sockets)
        {
            _hub.Add(socket);
        }

        var activations = 0;
        var vacancies = 0;
        await Task.WhenAll(sockets.Select(socket => Task.Run(() =>
        {
            for (var i = 0; i < 200; i++)
            {
                if (_hub.Subscribe(socket.Id, "race") == SubscriptionChange.TopicActivated)
                {
                    Interlocked.Increment(ref activations);
                }

                if (_hub.Unsubscribe(socket.Id, "race") == SubscriptionChange.TopicVacated)
                {
                    Interlocked.Increment(ref vacancies);
                }
            }
        }, TestContext.Current.CancellationToken)));

        Assert.Equal(0, _hub.GetSubscriberCount("race"));
        Assert.Equal(activations, vacancies);
        Assert.InRange(activations, 1, 64 * 200);
    }
}
