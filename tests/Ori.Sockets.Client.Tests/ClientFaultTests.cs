using System.Collections.Concurrent;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Client.Tests;

/// <summary>
/// A failure nobody foresaw, injected once into each of the client's loops: the client must never stay
/// <see cref="OriSocketClientState.Connected"/> without a working connection, and must come back by itself.
/// </summary>
public sealed class ClientFaultTests : IAsyncLifetime
{
    private ChatServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await ChatServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("receive")]
    [InlineData("send")]
    [InlineData("heartbeat")]
    [InlineData("flush")]
    [InlineData("rejoin")]
    [InlineData("connect")]
    public async Task A_failure_in_any_loop_moves_the_client_to_reconnecting_and_it_comes_back(string loop)
    {
        var options = new OriSocketClientOptions
        {
            ReconnectInitialDelay = TimeSpan.FromMilliseconds(50),
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(400),
            RequestTimeout = TimeSpan.FromSeconds(5),
            HeartbeatInterval = loop == "heartbeat" ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(25),
        };
        await using var client = new OriSocketClient(_server.Uri(), options);
        await client.ConnectAsync();
        await client.JoinRoomAsync("room:a");
        var states = new ConcurrentQueue<OriSocketClientState>();
        client.StateChanged += change => states.Enqueue(change.Current);
        var errors = new ConcurrentQueue<Exception>();
        client.Error += errors.Enqueue;
        var armed = 0;
        client.InjectFault = step =>
        {
            if (step == loop && Interlocked.Exchange(ref armed, 0) == 1)
            {
                throw new InvalidOperationException($"injected into {loop}");
            }
        };

        Task<ChatAck>? buffered = null;
        switch (loop)
        {
            case "receive":
                // The reply is the message whose handling fails: the connection is dropped, and the caller told so.
                Volatile.Write(ref armed, 1);
                await Assert.ThrowsAsync<OriSocketConnectionException>(() => client.RequestAsync(new ChatSend("reply lost")));
                break;
            case "send":
                // The caller is told the send failed, and it never reaches the server, now or after the reconnect.
                Volatile.Write(ref armed, 1);
                await Assert.ThrowsAsync<OriSocketConnectionException>(() => client.RequestAsync(new ChatSend("never sent")));
                break;
            case "heartbeat":
                Volatile.Write(ref armed, 1);
                break;
            default:
                // flush, rejoin and connect run while a connection comes back: take it away first.
                await _server.StopAsync();
                await Eventually.TrueAsync(() => client.State == OriSocketClientState.Reconnecting);
                buffered = client.RequestAsync(new ChatSend("buffered"));
                Volatile.Write(ref armed, 1);
                await _server.StartAgainAsync();
                break;
        }

        // The state is set before its event is raised: wait for the event too, or the last one seen may still be the
        // Reconnecting that came before (the race this test lost once on a loaded machine).
        await Eventually.TrueAsync(() => Volatile.Read(ref armed) == 0 && client.State == OriSocketClientState.Connected && states.Contains(OriSocketClientState.Reconnecting)
            && states.LastOrDefault() == OriSocketClientState.Connected && _server.Provider.GetSubscriberCount("room:a") == 1);
        Assert.Equal(OriSocketClientState.Connected, states.Last());
        if (buffered is not null)
        {
            // Sent once, on the connection that worked.
            Assert.Equal("ann", (await buffered).From);
            Assert.Single(_server.Journal.Sent, "buffered");
        }

        Assert.Equal("ann", (await client.RequestAsync(new ChatSend("after"))).From);
        Assert.DoesNotContain("never sent", _server.Journal.Sent);
        if (loop != "send")
        {
            // What failed inside a loop is reported: nobody else would hear of it.
            Assert.Contains(errors, e => e is InvalidOperationException && e.Message == $"injected into {loop}");
        }
    }
}
