using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.FileProviders;
using OpenTelemetry.Metrics;
using Ori.Sockets;
using Ori.Sockets.Redis;
using StackExchange.Redis;

namespace Dashboard.Server;

/// <summary>Builds the dashboard application (Program.cs runs it; tests start it on a free port).</summary>
public static class DashboardApp
{
    /// <summary>Builds the application.</summary>
    /// <param name="args">Command-line arguments (configuration).</param>
    /// <param name="configure">Changes before the build (tests use it).</param>
    /// <returns>The application, not started.</returns>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, DashboardJson.Default));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<IncidentStore>();
        builder.Services.AddHostedService<MonitorSimulator>();

        // The runtime's and the Redis provider's meters (and ASP.NET Core's), for Prometheus at GET /metrics.
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter("Ori.Sockets", "Ori.Sockets.Redis", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
            .AddPrometheusExporter());
        // Presence events for the account rooms: the library tells the tracker who came and went, on every instance.
        var sockets = builder.Services.AddOriSockets(o => o.PresenceEvents = topic => topic.StartsWith("account:", StringComparison.Ordinal))
            .AddSocketRouters()
            .AddHealthChecks()
            .AddConnectionHandler<PresenceTracker>()
            .AddPresenceHandler<PresenceTracker>()
            // A client may join its own account's rooms (presence, and its projects' monitors and incidents), no other.
            .AddRoomRule((socket, room) => Topics.BelongsTo(room, socket.GetState<DashboardUser>().AccountId));

        // With ConnectionStrings:Redis (ConnectionStrings__Redis=127.0.0.1:6379), instances share sockets
        // and presence through Redis; without it, one instance runs on the in-process provider.
        var redis = builder.Configuration.GetConnectionString("Redis");
        if (string.IsNullOrWhiteSpace(redis))
        {
            builder.Services.AddSingleton<IPresenceStore, InMemoryPresenceStore>();
        }
        else
        {
            var configuration = ConfigurationOptions.Parse(redis);
            configuration.AbortOnConnectFail = false;
            var multiplexer = ConnectionMultiplexer.Connect(configuration);
            builder.Services.AddSingleton<IConnectionMultiplexer>(_ => multiplexer);
            sockets.AddRedis(multiplexer);
            builder.Services.AddSingleton<IPresenceStore>(sp => new RedisPresenceStore(
                multiplexer, sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<OriSocketsRedisOptions>>().Value.ChannelPrefix));
        }
        // With Dashboard:ListenerPort, the WebSocket endpoint is served on that loopback port too, from the transport up
        // (ListenOptions.UseOriSockets): the mode meant for many idle sockets, which keeps no HTTP request per socket.
        if (builder.Configuration.GetValue<int?>("Dashboard:ListenerPort") is { } listenerPort)
        {
            ListenWithSocketListener(builder, listenerPort);
        }

        configure?.Invoke(builder);

        var app = builder.Build();
        var page = new PhysicalFileProvider(Path.Combine(AppContext.BaseDirectory, "wwwroot"));
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = page });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = page });
        app.MapOriSockets<DashboardSocket>("/ws");
        app.MapOriSocketsBrowserClient();
        app.MapOriSocketsContracts();
        app.MapPrometheusScrapingEndpoint("/metrics");

        // 200 when healthy or degraded, 503 when unhealthy (shutting down, or Redis configured and unreachable).
        app.MapHealthChecks("/health", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions
        {
            ResultStatusCodes =
            {
                [Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy] = StatusCodes.Status200OK,
                [Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded] = StatusCodes.Status200OK,
                [Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        });
        app.MapDashboardApi();
        return app;
    }

    private static void ListenWithSocketListener(WebApplicationBuilder builder, int listenerPort)
    {
        // Kestrel ignores the configured URLs once an endpoint is given in code: they are listened on here too
        // (an address of null: localhost).
        var endpoints = new List<(IPAddress? Address, int Port)>();
        foreach (var text in (builder.WebHost.GetSetting(WebHostDefaults.ServerUrlsKey) ?? "http://localhost:5000").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var url = new Uri(text.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal));
            if (url.Scheme != Uri.UriSchemeHttp)
            {
                throw new InvalidOperationException($"Dashboard:ListenerPort works with http URLs only; {text} is not one.");
            }

            if (IPAddress.TryParse(url.Host.Trim('[', ']'), out var address))
            {
                endpoints.Add((address, url.Port));
            }
            else if (url.IsLoopback)
            {
                endpoints.Add((null, url.Port));
            }
            else
            {
                throw new InvalidOperationException($"Dashboard:ListenerPort needs URLs with an IP address or localhost; {text} has neither.");
            }
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            foreach (var (address, port) in endpoints)
            {
                if (address is null)
                {
                    kestrel.ListenLocalhost(port);
                }
                else
                {
                    kestrel.Listen(address, port);
                }
            }

            kestrel.Listen(IPAddress.Loopback, listenerPort, listen => listen.UseOriSockets<DashboardSocket>());
        });
    }
}

/// <summary>Serialization of the HTTP API without reflection.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(Incident))]
[JsonSerializable(typeof(IReadOnlyList<Incident>))]
[JsonSerializable(typeof(Stats))]
[JsonSerializable(typeof(OnlineUsers))]
internal sealed partial class DashboardJson : JsonSerializerContext;
