using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets.PubSub;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

/// <summary>
/// A provider whose dependency stalls (topics beginning with <c>stall</c> never complete until released): every wait
/// of a message on it ends at <c>DependencyTimeout</c> with <c>unavailable</c>, the socket stays responsive, and a
/// join that overran is undone.
/// </summary>
public sealed class DependencyTimeoutTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromMilliseconds(600);

    [Fact]
    public async Task A_join_that_overruns_the_dependency_timeout_is_answered_unavailable_and_undone_and_the_heartbeat_is_answered_meanwhile()
    {
        await using var server = await StartAsync();
        var gate = server.Services.GetRequiredService<StallGate>();
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();

        await client.SendJsonAsync(new { type = "room.join", correlationId = "j", data = new { room = "stall.room" } });
        await client.SendAsync("2");
        Assert.Equal("3", await client.ReceiveAsync(TimeSpan.FromSeconds(2)));

        var reply = await client.ReceiveJsonAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("j", reply.GetProperty("correlationId").GetString());
        Assert.Equal("unavailable", reply.GetProperty("error").GetString());
        Assert.Contains("not subscribed", reply.GetProperty("message").GetString(), StringComparison.Ordinal);

        // Undone before the answer went out, and it stays undone when the stalled call completes at last.
        Assert.Equal(0, server.Provider.GetSubscriberCount("stall.room"));
        gate.Release.TrySetResult();
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.Equal(0, server.Provider.GetSubscriberCount("stall.room"));

        // The socket works on: a join that does not stall succeeds.
        var joined = await client.RequestAsync("room.join", new { room = "fine" }, "k");
        Assert.True(joined.GetProperty("data").GetProperty("joined").GetBoolean());
    }

    [Fact]
    public async Task A_publish_by_a_handler_that_overruns_is_answered_unavailable_and_the_next_message_is_handled()
    {
        await using var server = await StartAsync();
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();

        var started = DateTime.UtcNow;
        var reply = await client.RequestAsync("publish.others", new { text = "stall.news" }, "p");
        Assert.Equal("unavailable", reply.GetProperty("error").GetString());
        Assert.Contains("did not complete within 0.6 s", reply.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));

        var echo = await client.RequestAsync("echo", new { text = "after" }, "e");
        Assert.Equal("after", echo.GetProperty("data").GetProperty("text").GetString());
        Assert.Contains(server.Logs.Entries, e => e.Message.Contains("answered unavailable", StringComparison.Ordinal));
        Assert.DoesNotContain(server.Logs.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
    }

    private static Task<TestServer> StartAsync() => TestServer.StartAsync(
        sockets: s => s.UseProvider<StallingProvider>().AddRoomRule((_, _) => true),
        options: o => o.DependencyTimeout = s_limit,
        builder: b => b.Services.AddSingleton<StallGate>());

    public sealed class StallGate
    {
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>The in-process provider, with a dependency that stalls on topics beginning with <c>stall</c>.</summary>
    private sealed class StallingProvider(SocketHub hub, TimeProvider time, StallGate gate) : ISocketProvider
    {
        private readonly InProcessSocketProvider _inner = new(hub, time);

        public TimeProvider TimeProvider => time;

        public int ConnectionCount => _inner.ConnectionCount;

        public async ValueTask PublishAsync(string topic, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
        {
            await _inner.PublishAsync(topic, frame, exceptSocketIds, cancellationToken);
            await StallAsync(topic);
        }

        public ValueTask SendAsync(string socketId, SocketFrame frame, CancellationToken cancellationToken = default) => _inner.SendAsync(socketId, frame, cancellationToken);

        public ValueTask BroadcastAsync(SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default) => _inner.BroadcastAsync(frame, exceptSocketIds, cancellationToken);

        public ValueTask SendToUserAsync(string userId, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default) =>
            _inner.SendToUserAsync(userId, frame, exceptSocketIds, cancellationToken);

        public ValueTask DisconnectUserAsync(string userId, string reason, CancellationToken cancellationToken = default) => _inner.DisconnectUserAsync(userId, reason, cancellationToken);

        public async ValueTask SubscribeAsync(string socketId, string topic, CancellationToken cancellationToken = default)
        {
            await _inner.SubscribeAsync(socketId, topic, cancellationToken);
            await StallAsync(topic);
        }

        public ValueTask UnsubscribeAsync(string socketId, string topic, CancellationToken cancellationToken = default) => _inner.UnsubscribeAsync(socketId, topic, cancellationToken);

        public ValueTask ReleaseAsync(string socketId) => _inner.ReleaseAsync(socketId);

        public ValueTask<SocketPresence> GetPresenceAsync(string topic, CancellationToken cancellationToken = default) => _inner.GetPresenceAsync(topic, cancellationToken);

        public ValueTask<SocketConnectionCounts> GetConnectionCountsAsync(CancellationToken cancellationToken = default) => _inner.GetConnectionCountsAsync(cancellationToken);

        public ValueTask<IReadOnlyList<SocketPresenceMember>> GetUserSocketsAsync(string userId, CancellationToken cancellationToken = default) => _inner.GetUserSocketsAsync(userId, cancellationToken);

        public ValueTask DisconnectAsync(string socketId, CancellationToken cancellationToken = default) => _inner.DisconnectAsync(socketId, cancellationToken);

        public bool IsConnected(string socketId) => _inner.IsConnected(socketId);

        public int GetSubscriberCount(string topic) => _inner.GetSubscriberCount(topic);

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        private Task StallAsync(string topic) => topic.StartsWith("stall", StringComparison.Ordinal) ? gate.Release.Task : Task.CompletedTask;
    }
}
