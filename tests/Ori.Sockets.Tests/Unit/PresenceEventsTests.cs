using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Ori.Sockets.PubSub;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.Unit;

/// <summary>The batching of <c>ori.presence</c> pushes, on a hub of recording sockets and a fake clock.</summary>
public sealed class PresenceEventsTests
{
    [Fact]
    public async Task Five_thousand_sockets_joining_one_topic_at_once_make_ten_pushes_to_each_member_listing_each_joiner_once()
    {
        const int crowd = 5000;
        var time = new FakeTimeProvider();
        var hub = new SocketHub(time: time);
        var provider = new InProcessSocketProvider(hub, time);
        using var events = new PresenceEvents(hub, provider, [], topic => topic == "stadium", TimeSpan.FromMilliseconds(200), time, NullLogger.Instance);
        var observer = new RecordingSocket("observer");
        hub.Add(observer, "watcher");
        hub.Subscribe("observer", "stadium");
        time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.Single(observer.Texts);

        var sockets = Enumerable.Range(0, crowd).Select(i => new RecordingSocket($"s{i}")).ToList();
        foreach (var socket in sockets)
        {
            hub.Add(socket, "u" + socket.Id);
        }

        await Task.WhenAll(sockets.Select(s => Task.Run(() => hub.Subscribe(s.Id, "stadium"), TestContext.Current.CancellationToken)));
        time.Advance(TimeSpan.FromMilliseconds(200));
        await Eventually.TrueAsync(() => observer.Texts.Count >= 1 + (crowd / PresenceEvents.MaxMembersPerPush));

        var pushes = observer.Texts.Skip(1).Select(t => JsonDocument.Parse(t).RootElement.GetProperty("data")).ToList();
        Assert.Equal(crowd / PresenceEvents.MaxMembersPerPush, pushes.Count);
        var joined = pushes.SelectMany(p => p.GetProperty("joined").EnumerateArray().Select(m => m.GetProperty("socketId").GetString())).ToList();
        Assert.Equal(crowd, joined.Count);
        Assert.Equal(crowd, joined.Distinct().Count());

        // A socket that joins and leaves within one window is in neither list.
        var passing = new RecordingSocket("passing");
        hub.Add(passing, null);
        hub.Subscribe("passing", "stadium");
        hub.Unsubscribe("passing", "stadium");
        var before = observer.Texts.Count;
        time.Advance(TimeSpan.FromMilliseconds(200));
        await Task.Delay(200, TestContext.Current.CancellationToken);
        Assert.Equal(before, observer.Texts.Count);
    }
}
