using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ori.Sockets.Tests.Infrastructure;

/// <summary>A real Kestrel server on 127.0.0.1 and a free port, with Ori.Sockets mapped at /ws.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private TestServer(WebApplication app, Uri httpUri, LogSink logs)
    {
        App = app;
        HttpUri = httpUri;
        WsUri = new Uri($"ws://{httpUri.Authority}/ws");
        Logs = logs;
    }

    public WebApplication App { get; }

    public Uri HttpUri { get; }

    public Uri WsUri { get; }

    public LogSink Logs { get; }

    public IServiceProvider Services => App.Services;

    public ISocketEmitter Emitter => Services.GetRequiredService<ISocketEmitter>();

    public ISocketProvider Provider => Services.GetRequiredService<ISocketProvider>();

    public static async Task<TestServer> StartAsync(
        Action<OriSocketsBuilder>? sockets = null,
        Action<OriSocketsOptions>? options = null,
        Action<WebApplicationBuilder>? builder = null,
        Action<WebApplication>? app = null,
        bool mapSockets = true,
        Type[]? connectionGuards = null,
        Type[]? messageGuards = null)
    {
        var webBuilder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        webBuilder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var logs = new LogSink();
        webBuilder.Logging.ClearProviders();
        webBuilder.Logging.AddProvider(logs);
        webBuilder.Logging.SetMinimumLevel(LogLevel.Debug);
        webBuilder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        var socketsBuilder = webBuilder.Services.AddOriSockets(options).AddDispatcher<TestDispatcher>();
        webBuilder.Services.AddSingleton<EndToEnd.PubSubTests.GateGuardGate>();
        webBuilder.Services.AddSingleton<TestHandlers>();
        var guarded = connectionGuards is not null || messageGuards is not null;
        if (guarded)
        {
            webBuilder.Services.AddSingleton(new GuardedTestEndpoint.Guards(connectionGuards ?? [], messageGuards ?? []));
            webBuilder.Services.AddSingleton<TestDispatcher>();
            socketsBuilder.AddEndpoint<GuardedTestEndpoint>();
        }

        sockets?.Invoke(socketsBuilder);
        builder?.Invoke(webBuilder);

        var application = webBuilder.Build();
        app?.Invoke(application);
        if (guarded)
        {
            application.MapOriSockets<GuardedTestEndpoint>("/ws");
        }
        else if (mapSockets)
        {
            application.MapOriSockets("/ws");
        }

        await application.StartAsync();
        var address = application.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestServer(application, new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)), logs);
    }

    public Task<TestClient> ConnectAsync(string? query = null, string? origin = null) =>
        TestClient.ConnectAsync(query is null ? WsUri : new Uri(WsUri + "?" + query), origin);

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await App.StopAsync(timeout.Token);
        }
        finally
        {
            await App.DisposeAsync();
        }
    }
}
