using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets.Testing;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Client.Tests;

/// <summary>Ori.Sockets.Testing: the chat router tested in memory, as a user of the kit would.</summary>
public sealed class TestKitTests
{
    private static Task<OriSocketsTestHost> StartChatAsync(Action<OriSocketsOptions>? options = null) =>
        OriSocketsTestHost.StartAsync(
            builder =>
            {
                builder.Services.AddSingleton<Journal>();
                builder.Services.AddOriSockets(options).AddSocketRouters();
            },
            app => app.MapOriSockets<ChatSocket>("/ws"),
            TestContext.Current.CancellationToken);

    [Fact]
    public async Task A_router_is_tested_in_memory_with_a_typed_client_and_recorded_pushes()
    {
        await using var host = await StartChatAsync();
        var client = await host.ConnectAsync("/ws?token=ok");
        using var messages = client.Record<ChatMessage>();

        Assert.Equal(new ChatAck(5, "ann"), await client.RequestAsync(new ChatSend("hello")));
        await host.Services.GetRequiredService<ISocketEmitter>().EmitToSocketAsync(client.SocketId!, new ChatMessage("hi ann"));
        Assert.Equal("hi ann", (await messages.NextAsync()).Text);
        Assert.Equal(["hello"], host.Services.GetRequiredService<Journal>().Sent);

        // No port: the application runs on TestServer, not Kestrel.
        Assert.IsType<TestServer>(host.Services.GetRequiredService<IServer>());
    }

    [Fact]
    public async Task Validation_errors_guard_refusals_and_silence_are_seen_as_on_a_real_server()
    {
        await using var host = await StartChatAsync();
        var client = await host.ConnectAsync("/ws?token=ok");
        var error = await Assert.ThrowsAsync<OriSocketErrorException>(() => client.RequestAsync(new ChatSend(new string('x', 21))));
        Assert.Equal("validation_failed", error.Code);
        Assert.Equal("$.data.text", Assert.Single(error.Details).Path);

        var refused = await Assert.ThrowsAsync<OriSocketConnectionException>(() => host.ConnectAsync("/ws?token=wrong"));
        Assert.Equal(1008, refused.CloseStatus);

        // A push to another socket does not reach this one; one to this socket is caught by the same check.
        var other = await host.ConnectAsync("/ws?token=ok");
        using var messages = client.Record<ChatMessage>();
        var emitter = host.Services.GetRequiredService<ISocketEmitter>();
        await emitter.EmitToSocketAsync(other.SocketId!, new ChatMessage("not for you"));
        await messages.ExpectNoneAsync(TimeSpan.FromMilliseconds(300));
        await emitter.EmitToSocketAsync(client.SocketId!, new ChatMessage("for you"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => messages.ExpectNoneAsync(TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task The_idle_timeout_runs_on_the_hosts_fake_clock()
    {
        await using var host = await StartChatAsync(o => o.IdleTimeout = TimeSpan.FromSeconds(60));
        var closes = new List<int?>();
        var client = host.CreateClient("/ws?token=ok", new OriSocketClientOptions { HeartbeatInterval = TimeSpan.Zero, ReconnectInitialDelay = TimeSpan.FromMinutes(10) });
        client.StateChanged += change =>
        {
            if (change.Current == OriSocketClientState.Reconnecting)
            {
                lock (closes)
                {
                    closes.Add(change.CloseStatus);
                }
            }
        };
        await client.ConnectAsync(TestContext.Current.CancellationToken);

        // A silent socket 59 s on the server's clock is still open (watched for half a second of real time)...
        host.Time.Advance(TimeSpan.FromSeconds(59));
        await Task.Delay(500, TestContext.Current.CancellationToken);
        Assert.Equal(OriSocketClientState.Connected, client.State);

        // ...and closed with 4000 once it passes 60 s, however little real time went by.
        host.Time.Advance(TimeSpan.FromSeconds(2));
        await Eventually.TrueAsync(() => client.State == OriSocketClientState.Reconnecting);
        lock (closes)
        {
            Assert.Equal([4000], closes);
        }
    }
}
