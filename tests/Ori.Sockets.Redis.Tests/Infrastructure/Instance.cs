using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Redis.Tests.Infrastructure;

/// <summary>One application instance: a real Kestrel on its own loopback port, on the Redis provider.</summary>
internal sealed class Instance : IAsyncDisposable
{
    private bool _stopped;

    private Instance(WebApplication app, Uri ws, LogSink logs)
    {
        App = app;
        WsUri = ws;
        Logs = logs;
    }

    public WebApplication App { get; }

    public Uri WsUri { get; }

    public LogSink Logs { get; }

    public ISocketEmitter Emitter => App.Services.GetRequiredService<ISocketEmitter>();

    public RedisSocketProvider Provider => App.Services.GetRequiredService<RedisSocketProvider>();

    public RedisCounters Counters => App.Services.GetRequiredService<RedisCounters>();

    public static async Task<Instance> StartAsync(string redis, string prefix, Action<OriSocketsRedisOptions>? configure = null, Action<OriSocketsOptions>? sockets = null, Action<OriSocketsBuilder>? build = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var logs = new LogSink();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        var ori = builder.Services.AddOriSockets(sockets).AddRoomRule((_, _) => true);
        build?.Invoke(ori);
        ori.AddRedis(o =>
            {
                o.ConnectionString = redis;
                o.ChannelPrefix = prefix;
                o.ConnectTimeout = TimeSpan.FromSeconds(1);
                o.RetryInterval = TimeSpan.FromMilliseconds(200);
                configure?.Invoke(o);
            });
        var app = builder.Build();

        // Stands in for authentication: "?user=alice" makes the request's user alice (name identifier claim), which the
        // default UserIdFromClaims rule takes as the socket's user id.
        app.Use((context, next) =>
        {
            if (context.Request.Query["user"].ToString() is { Length: > 0 } user)
            {
                context.User = new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity([new System.Security.Claims.Claim(System.Security.Claims.ClaimTypes.NameIdentifier, user)], "test"));
            }

            return next(context);
        });
        app.MapOriSockets("/ws");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Instance(app, new Uri($"ws://{new Uri(address).Authority}/ws"), logs);
    }

    public async Task<(TestClient Client, string SocketId)> ConnectAsync(string? user = null) =>
        await TestClient.ConnectReadyAsync(user is null ? WsUri : new Uri(WsUri + "?user=" + Uri.EscapeDataString(user)));

    /// <summary>Connects a client and joins a room; returns when the join was answered.</summary>
    public async Task<(TestClient Client, string SocketId)> JoinAsync(string room)
    {
        var (client, id) = await ConnectAsync();
        var reply = await client.RequestAsync("room.join", new { room }, "j");
        Assert.False(reply.TryGetProperty("error", out _), reply.ToString());
        return (client, id);
    }

    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await App.StopAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await App.DisposeAsync();
    }
}

/// <summary>The push the fault tests publish, and reading its text back.</summary>
internal static class Notes
{
    public static SocketFrame Push(string text) =>
        SocketFrame.Text(System.Text.Json.JsonSerializer.Serialize(new { name = "note", data = new { text }, timestamp = 1 }));

    public static async Task<string> TextAsync(TestClient client, TimeSpan? timeout = null) =>
        (await client.ReceiveJsonAsync(timeout)).GetProperty("data").GetProperty("text").GetString()!;
}
