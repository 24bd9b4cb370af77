using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Client.Tests;

public sealed class ClientTests : IAsyncLifetime
{
    private ChatServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await ChatServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private static OriSocketClientOptions Fast() => new()
    {
        ReconnectInitialDelay = TimeSpan.FromMilliseconds(50),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(400),
        RequestTimeout = TimeSpan.FromSeconds(5),
    };

    private async Task<OriSocketClient> ConnectedAsync(OriSocketClientOptions? options = null, Uri? uri = null)
    {
        var client = new OriSocketClient(uri ?? _server.Uri(), options ?? Fast());
        await client.ConnectAsync();
        return client;
    }

    [Fact]
    public async Task A_typed_request_returns_the_reply_type_of_its_contract()
    {
        await using var client = await ConnectedAsync();
        Assert.Equal(OriSocketClientState.Connected, client.State);
        Assert.NotNull(client.SocketId);

        ChatAck ack = await client.RequestAsync(new ChatSend("hello"));
        Assert.Equal(new ChatAck(5, "ann"), ack);
    }

    [Fact]
    public async Task A_validation_error_surfaces_with_code_message_and_paths()
    {
        await using var client = await ConnectedAsync();
        var error = await Assert.ThrowsAsync<OriSocketErrorException>(() => client.RequestAsync(new ChatSend(new string('x', 21))));
        Assert.Equal("validation_failed", error.Code);
        Assert.False(string.IsNullOrEmpty(error.Message));
        Assert.Equal("$.data.text", Assert.Single(error.Details).Path);
    }

    [Fact]
    public async Task Pushes_reach_typed_handlers_until_they_are_disposed()
    {
        await using var client = await ConnectedAsync();
        var received = new ConcurrentQueue<string>();
        var subscription = client.On<ChatMessage>(m => received.Enqueue(m.Text));

        await _server.Emitter.EmitToSocketAsync(client.SocketId!, new ChatMessage("one"));
        await Eventually.TrueAsync(() => received.Count == 1);
        Assert.Equal("one", received.Single());

        subscription.Dispose();
        await _server.Emitter.EmitToSocketAsync(client.SocketId!, new ChatMessage("two"));
        await client.RequestAsync(new ChatSend("sync")); // the push, if delivered, came before this reply
        Assert.Single(received);
    }

    [Fact]
    public async Task Rooms_are_joined_left_and_refused()
    {
        await using var client = await ConnectedAsync();
        var received = new ConcurrentQueue<string>();
        using var _ = client.On<ChatMessage>(m => received.Enqueue(m.Text));

        await client.JoinRoomAsync("room:a");
        Assert.Equal(1, _server.Provider.GetSubscriberCount("room:a"));
        await _server.Emitter.EmitAsync("room:a", new ChatMessage("in-room"));
        await Eventually.TrueAsync(() => received.Contains("in-room"));

        var refused = await Assert.ThrowsAsync<OriSocketErrorException>(() => client.JoinRoomAsync("forbidden:x"));
        Assert.Equal("forbidden", refused.Code);

        await client.LeaveRoomAsync("room:a");
        Assert.Equal(0, _server.Provider.GetSubscriberCount("room:a"));
    }

    [Fact]
    public async Task After_a_server_restart_the_client_reconnects_rejoins_its_rooms_once_and_receives_again()
    {
        await using var client = await ConnectedAsync();
        var states = new ConcurrentQueue<OriSocketClientState>();
        client.StateChanged += change => states.Enqueue(change.Current);
        var received = new ConcurrentQueue<string>();
        using var _ = client.On<ChatMessage>(m => received.Enqueue(m.Text));
        await client.JoinRoomAsync("room:a");
        await client.JoinRoomAsync("room:b");
        var firstId = client.SocketId;

        await _server.StopAsync();
        await Eventually.TrueAsync(() => client.State == OriSocketClientState.Reconnecting);
        await _server.StartAgainAsync();

        await Eventually.TrueAsync(() => client.State == OriSocketClientState.Connected && _server.Provider.GetSubscriberCount("room:b") == 1);
        Assert.NotEqual(firstId, client.SocketId);
        Assert.Equal(1, _server.Provider.GetSubscriberCount("room:a"));
        Assert.Equal([OriSocketClientState.Reconnecting, OriSocketClientState.Connected], states.Distinct());

        await _server.Emitter.EmitAsync("room:a", new ChatMessage("after-restart"));
        await Eventually.TrueAsync(() => received.Contains("after-restart"));
        Assert.Equal(new ChatAck(2, "ann"), await client.RequestAsync(new ChatSend("ok")));
    }

    [Fact]
    public async Task A_missed_pong_makes_the_client_reconnect()
    {
        // The client's heartbeat runs on its TimeProvider: the default 25 s interval and 5 s time limit pass on
        // a fake clock, a second at a time, instead of being shortened and slept through.
        await using var proxy = new FreezableProxy(_server.Port);
        var time = new FakeTimeProvider();
        var options = Fast();
        options.TimeProvider = time;
        await using var client = await ConnectedAsync(options, new Uri($"ws://127.0.0.1:{proxy.Port}/ws?token=ok"));
        var reconnecting = new TaskCompletionSource();
        client.StateChanged += change =>
        {
            if (change.Current == OriSocketClientState.Reconnecting)
            {
                reconnecting.TrySetResult();
            }
        };

        // The server keeps its socket open but the client hears nothing: no 3 comes back.
        proxy.Freeze();
        var advanced = TimeSpan.Zero;
        await Eventually.TrueAsync(() =>
        {
            time.Advance(TimeSpan.FromSeconds(1));
            advanced += TimeSpan.FromSeconds(1);
            return reconnecting.Task.IsCompleted;
        });
        Assert.InRange(advanced, options.HeartbeatInterval + options.HeartbeatTimeout, TimeSpan.FromSeconds(120));
        proxy.Thaw();
        await Eventually.TrueAsync(() =>
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            return client.State == OriSocketClientState.Connected;
        });
        Assert.True(proxy.Accepted >= 2);
        Assert.Equal(new ChatAck(4, "ann"), await client.RequestAsync(new ChatSend("back")));
    }

    [Fact]
    public async Task Expired_credentials_4001_make_the_client_reconnect_with_a_fresh_token_from_its_provider()
    {
        var issued = 0;
        var options = Fast();
        options.AccessTokenProvider = _ => new($"short:{Interlocked.Increment(ref issued)}");
        var closes = new ConcurrentQueue<int?>();
        await using var client = new OriSocketClient(new Uri($"ws://127.0.0.1:{_server.Port}/ws"), options);
        client.StateChanged += change =>
        {
            if (change.Current == OriSocketClientState.Reconnecting)
            {
                closes.Enqueue(change.CloseStatus);
            }
        };
        await client.ConnectAsync();

        // Each token lives 300 ms: the server closes with 4001 and the client comes back with the next one.
        await Eventually.TrueAsync(() => Volatile.Read(ref issued) >= 3 && client.State == OriSocketClientState.Connected);
        Assert.Contains(SocketCloseCodes.CredentialsExpired, closes);
        Assert.Contains("short:1", _server.Journal.Connections);
        Assert.Contains("short:2", _server.Journal.Connections);
        Assert.DoesNotContain("ok", _server.Journal.Connections);
    }

    [Fact]
    public async Task A_refused_connection_1008_is_not_retried()
    {
        var client = new OriSocketClient(_server.Uri("bad"), Fast());
        var error = await Assert.ThrowsAsync<OriSocketConnectionException>(() => client.ConnectAsync());
        Assert.Equal(1008, error.CloseStatus);
        Assert.Equal(OriSocketClientState.Closed, client.State);
        await Task.Delay(500);
        Assert.Single(_server.Journal.Connections);
        await client.DisposeAsync();
    }

    [Fact]
    public async Task A_1008_during_a_session_stops_reconnection()
    {
        await using var client = await ConnectedAsync();
        var closed = new TaskCompletionSource<OriSocketClientStateChange>();
        client.StateChanged += change =>
        {
            if (change.Current == OriSocketClientState.Closed)
            {
                closed.TrySetResult(change);
            }
        };

        await Assert.ThrowsAsync<OriSocketConnectionException>(() => client.RequestAsync(new ChatAbuse("spam")));
        var change = await closed.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(1008, change.CloseStatus);
        await Task.Delay(500);
        Assert.Single(_server.Journal.Connections);
        await Assert.ThrowsAsync<OriSocketConnectionException>(() => client.SendAsync(new ChatNote(1)));
    }

    [Fact]
    public async Task While_disconnected_sends_are_buffered_up_to_the_limit_and_sent_in_order_after_reconnecting()
    {
        var options = Fast();
        options.SendBufferLimit = 50;
        await using var client = await ConnectedAsync(options);
        await _server.StopAsync();
        await Eventually.TrueAsync(() => client.State == OriSocketClientState.Reconnecting);

        // A buffered send completes when it was handed to an open socket, not before.
        var sends = Enumerable.Range(0, 50).Select(i => client.SendAsync(new ChatNote(i))).ToList();
        Assert.Equal(50, client.BufferedCount);
        await Assert.ThrowsAsync<OriSocketBufferFullException>(() => client.SendAsync(new ChatNote(50)));
        await Task.Delay(200, TestContext.Current.CancellationToken);
        Assert.DoesNotContain(sends, s => s.IsCompleted);

        await _server.StartAgainAsync();
        await Task.WhenAll(sends).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        await Eventually.TrueAsync(() => _server.Journal.Notes.Count == 50);
        Assert.Equal(Enumerable.Range(0, 50), _server.Journal.Notes);
        Assert.Equal(0, client.BufferedCount);
    }

    [Fact]
    public async Task A_request_that_timed_out_or_was_canceled_while_disconnected_is_never_sent_after_the_reconnect()
    {
        var options = Fast();
        options.RequestTimeout = TimeSpan.FromMilliseconds(300);
        await using var client = await ConnectedAsync(options);
        await _server.StopAsync();
        await Eventually.TrueAsync(() => client.State == OriSocketClientState.Reconnecting);

        // Buffered while the connection is down: the caller is told it timed out, or that it was canceled...
        await Assert.ThrowsAsync<TimeoutException>(() => client.RequestAsync(new ChatSend("timed out")));
        using var cancel = new CancellationTokenSource();
        var canceled = client.SendAsync(new ChatNote(404), cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled);
        Assert.Equal(0, client.BufferedCount);

        // ...and neither reaches the server after the reconnect; a note sent afterwards does.
        await _server.StartAgainAsync();
        await Eventually.TrueAsync(() => client.State == OriSocketClientState.Connected);
        await client.SendAsync(new ChatNote(1));
        await Eventually.TrueAsync(() => _server.Journal.Notes.Contains(1));
        Assert.Equal(new ChatAck(5, "ann"), await client.RequestAsync(new ChatSend("after")));
        Assert.DoesNotContain(404, _server.Journal.Notes);
        Assert.DoesNotContain("timed out", _server.Journal.Sent);
        Assert.Contains("after", _server.Journal.Sent);
    }

    [Fact]
    public async Task Giving_up_after_the_maximum_attempts_leaves_the_client_disconnected()
    {
        var options = Fast();
        options.MaxReconnectAttempts = 2;
        await using var client = await ConnectedAsync(options);
        await _server.StopAsync();
        await Eventually.TrueAsync(() => client.State == OriSocketClientState.Disconnected);
    }

    [Fact]
    public async Task Disposal_closes_and_stops_everything()
    {
        var client = await ConnectedAsync();
        var id = client.SocketId!;
        await client.DisposeAsync();
        Assert.Equal(OriSocketClientState.Closed, client.State);
        await Eventually.TrueAsync(() => !_server.Provider.IsConnected(id));
        await Task.Delay(300);
        Assert.Equal(0, _server.Provider.ConnectionCount);
    }

    [Fact]
    public void Backoff_grows_exponentially_with_jitter_up_to_the_maximum()
    {
        var client = new OriSocketClient(new Uri("ws://127.0.0.1:1/"), new OriSocketClientOptions());
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var ceiling = Math.Min(20_000, 500 * Math.Pow(2, attempt));
            var delays = Enumerable.Range(0, 50).Select(_ => client.Backoff(attempt).TotalMilliseconds).ToList();
            Assert.All(delays, d => Assert.InRange(d, ceiling / 2, ceiling));
            Assert.True(delays.Distinct().Count() > 1, "jitter");
        }
    }
}
