using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

/// <summary>
/// The event-loop mode (docs/performance.md): Kestrel's <c>UnsafePreferInlineScheduling</c>, so that the receive loop,
/// the handlers' synchronous parts and the writers' flushes run on the thread that completed the socket operation. The
/// test script runs this class a second time with <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c>, the runtime's
/// half of the mode (read once per process). Both the mapped endpoint and a listener served from the transport up.
/// </summary>
public sealed class EventLoopTests
{
    public static TheoryData<bool> Listeners => [false, true];

    [Theory]
    [MemberData(nameof(Listeners))]
    public async Task Concurrent_requests_get_their_own_replies_in_order(bool listener)
    {
        await using var server = await StartAsync();
        var clients = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => ConnectAsync(server, listener)));
        await Task.WhenAll(clients.Select(async (client, c) =>
        {
            for (var i = 0; i < 50; i++)
            {
                var reply = await client.RequestAsync("echo", new { text = $"{c}-{i}" }, $"r{i}");
                Assert.Equal($"r{i}", reply.GetProperty("correlationId").GetString());
                Assert.Equal($"{c}-{i}", reply.GetProperty("data").GetProperty("text").GetString());
            }
        }));
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
    }

    [Theory]
    [MemberData(nameof(Listeners))]
    public async Task The_heartbeat_is_answered_while_a_slow_handler_of_the_socket_runs(bool listener)
    {
        await using var server = await StartAsync();
        server.Services.GetRequiredService<TestHandlers>().SlowDelay = TimeSpan.FromSeconds(2);
        await using var client = await ConnectAsync(server, listener);
        await client.SendJsonAsync(new { type = "slow", correlationId = "a", data = new { text = "first" } });
        await client.SendAsync("2");
        Assert.Equal("3", await client.ReceiveAsync(TimeSpan.FromSeconds(1.5)));
        Assert.Equal("a", (await client.ReceiveJsonAsync()).GetProperty("correlationId").GetString());
    }

    [Theory]
    [MemberData(nameof(Listeners))]
    public async Task A_burst_reaches_every_subscriber_whole_and_in_order(bool listener)
    {
        await using var server = await StartAsync();
        var clients = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => ConnectAsync(server, listener)));
        foreach (var client in clients)
        {
            await client.RequestAsync("subscribe", new { text = "burst" }, "s");
        }

        for (var i = 0; i < 300; i++)
        {
            await server.Emitter.PublishAsync("burst", $$"""{"type":"n","data":{{i}}}""", cancellationToken: TestContext.Current.CancellationToken);
        }

        await Task.WhenAll(clients.Select(async client =>
        {
            for (var i = 0; i < 300; i++)
            {
                using var push = JsonDocument.Parse(await client.ReceiveAsync() ?? throw new InvalidOperationException("closed"));
                Assert.Equal(i, push.RootElement.GetProperty("data").GetInt32());
            }
        }));
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
    }

    [Theory]
    [MemberData(nameof(Listeners))]
    public async Task Stopping_drains_with_ori_draining_then_1001(bool listener)
    {
        var server = await StartAsync();
        await using var client = await ConnectAsync(server, listener);
        var stopping = server.DisposeAsync();
        Assert.Equal("ori.draining", (await client.ReceiveJsonAsync()).GetProperty("name").GetString());
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await client.WaitForCloseAsync());
        await stopping;
    }

    /// <summary>A server in the event-loop mode with /ws mapped on one port and served by a listener on another.</summary>
    private static async Task<EventLoopServer> StartAsync()
    {
        ListenOptions? listener = null;
        var server = await TestServer.StartAsync(
            options: o => o.DrainWindow = TimeSpan.FromMilliseconds(200),
            builder: b =>
            {
                b.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
                b.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => listener = l.UseOriSockets()));
            });
        return new EventLoopServer(server, listener!.IPEndPoint!.Port);
    }

    private static async Task<TestClient> ConnectAsync(EventLoopServer server, bool listener)
    {
        Assert.NotEqual(server.ListenerPort, server.Server.WsUri.Port);
        var client = await TestClient.ConnectAsync(listener ? new Uri($"ws://127.0.0.1:{server.ListenerPort}/ws") : server.Server.WsUri);
        await client.ReadyAsync();
        return client;
    }

    private sealed record EventLoopServer(TestServer Server, int ListenerPort) : IAsyncDisposable
    {
        public IServiceProvider Services => Server.Services;

        public ISocketEmitter Emitter => Server.Emitter;

        public ValueTask DisposeAsync() => Server.DisposeAsync();
    }
}
