using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Ori.Sockets.Client;

namespace Ori.Sockets.Testing;

/// <summary>
/// An Ori.Sockets application running in memory on ASP.NET Core's <see cref="TestServer"/>: typed
/// <see cref="OriSocketClient"/>s connect to it without a port or a network (real WebSocket frames over in-memory
/// pipes), and its <see cref="TimeProvider"/> is a <see cref="FakeTimeProvider"/> the test moves on, so heartbeats,
/// idle timeouts and credential expiries happen when the test says.
/// </summary>
/// <example>
/// <code>
/// await using var host = await OriSocketsTestHost.StartAsync(
///     builder => builder.Services.AddOriSockets().AddSocketRouters(),
///     app => app.MapOriSockets&lt;ChatSocket&gt;("/ws"));
/// await using var client = await host.ConnectAsync("/ws?token=ok");
/// using var messages = client.Record&lt;ChatMessage&gt;();
/// var ack = await client.RequestAsync(new ChatSend("hello"));
/// Assert.Equal("hello", (await messages.NextAsync()).Text);
/// </code>
/// </example>
public sealed class OriSocketsTestHost : IAsyncDisposable
{
    private readonly TestServer _server;
    private readonly IAsyncDisposable _owner;
    private readonly ConcurrentQueue<OriSocketClient> _clients = new();

    private OriSocketsTestHost(TestServer server, IServiceProvider services, FakeTimeProvider time, IAsyncDisposable owner)
    {
        _server = server;
        Services = services;
        Time = time;
        _owner = owner;
    }

    /// <summary>The application's services (resolve <see cref="ISocketEmitter"/> to publish, say).</summary>
    public IServiceProvider Services { get; }

    /// <summary>
    /// The application's clock, registered as its <see cref="TimeProvider"/>: it starts at the current time and moves only
    /// when the test calls <see cref="FakeTimeProvider.Advance(TimeSpan)"/>.
    /// </summary>
    public FakeTimeProvider Time { get; }

    /// <summary>
    /// Builds and starts an application in memory: <paramref name="configure"/> registers its services (as in
    /// <c>Program.cs</c>), <paramref name="map"/> maps its endpoints (<c>MapOriSockets</c>).
    /// </summary>
    /// <param name="configure">Registers the application's services on the builder.</param>
    /// <param name="map">Maps the application's endpoints.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The started host; dispose it to stop the application and its clients.</returns>
    public static async Task<OriSocketsTestHost> StartAsync(Action<WebApplicationBuilder> configure, Action<WebApplication> map, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(map);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.WebHost.UseTestServer();
        configure(builder);

        // After the application's own registrations: the last one is the one resolved.
        builder.Services.AddSingleton<TimeProvider>(time);
        var app = builder.Build();
        try
        {
            map(app);
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new OriSocketsTestHost(app.GetTestServer(), app.Services, time, app);
    }

    /// <summary>
    /// Runs an application's real <c>Program</c> in memory through a <see cref="WebApplicationFactory{TEntryPoint}"/>
    /// (its services and endpoints as in production; override them with <c>WithWebHostBuilder</c> first), with
    /// <see cref="Time"/> as its clock.
    /// </summary>
    /// <typeparam name="TEntryPoint">A type of the application's assembly, usually <c>Program</c>.</typeparam>
    /// <param name="factory">The factory; the host makes a configured copy of it and disposes that copy, not this one.</param>
    /// <returns>The started host.</returns>
    public static OriSocketsTestHost Start<TEntryPoint>(WebApplicationFactory<TEntryPoint> factory)
        where TEntryPoint : class
    {
        ArgumentNullException.ThrowIfNull(factory);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var configured = factory.WithWebHostBuilder(web => web.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(time)));
        return new OriSocketsTestHost(configured.Server, configured.Services, time, configured);
    }

    /// <summary>
    /// Connects a typed client to the application and waits for <c>ori.ready</c>. It is disposed with the host.
    /// </summary>
    /// <param name="pathAndQuery">The socket endpoint's path, with a query if its guards read one (<c>/ws?token=…</c>).</param>
    /// <param name="options">The client's options; its <see cref="OriSocketClientOptions.WebSocketFactory"/> is set to the in-memory connection.</param>
    /// <param name="cancellationToken">Cancels the connection attempt.</param>
    /// <returns>The connected client.</returns>
    public async Task<OriSocketClient> ConnectAsync(string pathAndQuery = "/ws", OriSocketClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        var client = CreateClient(pathAndQuery, options);
        await client.ConnectAsync(cancellationToken).ConfigureAwait(false);
        return client;
    }

    /// <summary>
    /// Makes a typed client for the application without connecting it (to watch its first connection fail, or set
    /// handlers first). It is disposed with the host.
    /// </summary>
    /// <param name="pathAndQuery">The socket endpoint's path, with a query if its guards read one.</param>
    /// <param name="options">The client's options; its <see cref="OriSocketClientOptions.WebSocketFactory"/> is set to the in-memory connection.</param>
    /// <returns>The client, not connected.</returns>
    public OriSocketClient CreateClient(string pathAndQuery = "/ws", OriSocketClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(pathAndQuery);
        options ??= new OriSocketClientOptions();
        options.WebSocketFactory = ConnectInMemoryAsync;
        var client = new OriSocketClient(new Uri(new Uri("ws://localhost/"), pathAndQuery), options);
        _clients.Enqueue(client);
        return client;
    }

    /// <summary>Disposes the clients made here, then stops the application.</summary>
    /// <returns>Completes when the application has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        while (_clients.TryDequeue(out var client))
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }

        await _owner.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// One WebSocket connection in memory: the upgrade request runs through the application's pipeline with an upgrade
    /// feature that hands the server its end of a pair of pipes; the client speaks RFC 6455 over the other end.
    /// </summary>
    private async ValueTask<WebSocket> ConnectInMemoryAsync(Uri uri, IReadOnlyDictionary<string, string> headers, CancellationToken cancellationToken)
    {
        var (clientEnd, serverEnd) = DuplexPipeStream.CreatePair();
        var upgraded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var request = _server.SendAsync(
            context =>
            {
                var http = context.Request;
                http.Method = HttpMethods.Get;
                http.Scheme = "http";
                http.Host = new HostString(uri.Authority);
                http.Path = PathString.FromUriComponent(uri);
                http.QueryString = QueryString.FromUriComponent(uri);
                http.Headers.Connection = "Upgrade";
                http.Headers.Upgrade = "websocket";
                http.Headers.SecWebSocketKey = key;
                http.Headers.SecWebSocketVersion = "13";
                foreach (var (name, value) in headers)
                {
                    http.Headers[name] = value;
                }

                context.Features.Set<IHttpUpgradeFeature>(new InMemoryUpgrade(serverEnd, upgraded));

                // The server tears a connection down with HttpContext.Abort: the client's end sees it closed.
                context.RequestAborted.Register(static end => ((Stream)end!).Dispose(), serverEnd);
            },
            cancellationToken);
        _ = request.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);

        if (await Task.WhenAny(upgraded.Task, request).WaitAsync(cancellationToken).ConfigureAwait(false) != upgraded.Task)
        {
            await clientEnd.DisposeAsync().ConfigureAwait(false);
            await serverEnd.DisposeAsync().ConfigureAwait(false);
            var status = request.IsCompletedSuccessfully ? (await request.ConfigureAwait(false)).Response.StatusCode : 0;
            throw new WebSocketException(WebSocketError.NotAWebSocket, $"The application answered the upgrade of {uri.PathAndQuery} with HTTP {status}, not a WebSocket.");
        }

        return WebSocket.CreateFromStream(clientEnd, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
    }
}
