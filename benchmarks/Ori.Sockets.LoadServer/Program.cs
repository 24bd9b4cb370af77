// dotnet Ori.Sockets.LoadServer.dll ori|signalr PORT   (ORI_LOAD_REDIS=host:port: scaled out through Redis)
// Both modes offer the same scenarios: a topic/group "bench" that clients join, an echo request,
// GET /jit (methods compiled so far: the tool warms up until it stops growing), GET /gc (allocated bytes and
// collections) and
// POST /publish?count=M&size=S&intervalMicroseconds=I, which publishes M pushes of about S bytes in a loop
// (one every I µs; 0: back to back), each carrying its publish time (Stopwatch ticks, the same clock in every
// process of this machine) for latency.
using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.SignalR;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Ori.Sockets;
using Ori.Sockets.LoadServer;
using Ori.Sockets.Redis;

var mode = args.Length > 0 ? args[0] : "ori";
var port = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5090;
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
// ORI_LOAD_LISTENER=port: Ori.Sockets also serves /ws on that port from the transport up (UseOriSockets: no HTTP
// objects kept per socket); the load tool's "ori+listener" connects there.
var listenerPort = Environment.GetEnvironmentVariable("ORI_LOAD_LISTENER") is { Length: > 0 } listening ? int.Parse(listening, System.Globalization.CultureInfo.InvariantCulture) : 0;
// ORI_LOAD_INLINE=1: Kestrel's socket transport runs the application's code on the thread that completed the socket
// operation (UnsafePreferInlineScheduling, with DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 set by the tool): no
// thread hop per message, as an event-loop server works; a handler that blocks then blocks the loop.
if (Environment.GetEnvironmentVariable("ORI_LOAD_INLINE") == "1")
{
    builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
}

builder.WebHost.UseKestrel(k =>
{
    k.Listen(IPAddress.Loopback, port);
    if (listenerPort > 0 && mode != "signalr")
    {
        k.Listen(IPAddress.Loopback, listenerPort, l => l.UseOriSockets());
    }
});

// "?user=u" stands for authentication: the request's user is u (name identifier claim), which both servers take as the
// connection's user (Ori.Sockets' UserIdFromClaims, SignalR's IUserIdProvider). A scheme, so that a listener's
// handshake authenticates it too. ORI_LOAD_AUTH=0 registers none (Bun's server authenticates nothing: what a connect
// costs like for like; the user scenarios need it).
var authenticate = Environment.GetEnvironmentVariable("ORI_LOAD_AUTH") != "0";
if (authenticate)
{
    builder.Services.AddAuthentication(QueryUser.Name).AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, QueryUser>(QueryUser.Name, null);
}

// ORI_LOAD_REDIS=host:port: the instance scales out through Redis (Ori.Sockets' provider, or SignalR's backplane).
var redis = Environment.GetEnvironmentVariable("ORI_LOAD_REDIS");
if (mode == "signalr")
{
    var signalR = builder.Services.AddSignalR(o =>
    {
        o.EnableDetailedErrors = false;
        o.ClientTimeoutInterval = TimeSpan.FromMinutes(10);
    });
    if (redis is { Length: > 0 })
    {
        signalR.AddStackExchangeRedis(redis, o => o.Configuration.ChannelPrefix = StackExchange.Redis.RedisChannel.Literal("load"));
    }
}
else
{
    var sockets = builder.Services.AddOriSockets(o =>
    {
        o.IdleTimeout = TimeSpan.FromMinutes(10);
        // The library's defaults for the per-socket queue (1 MiB: a burst's backlog per socket, 150-300 KB, fits) and the
        // process-wide budget; ORI_LOAD_OUTBOUND_BUDGET=bytes sets the budget (0: off) and
        // ORI_LOAD_OUTBOUND_BUDGET_PER_CONNECTION=bytes its floor per open connection (0: none; by default 8 KiB, so
        // 1,000 subscribers keep at least 8 MB whatever the budget says).
        if (Environment.GetEnvironmentVariable("ORI_LOAD_OUTBOUND_BUDGET") is { Length: > 0 } outbound)
        {
            o.OutboundBudget = long.Parse(outbound, System.Globalization.CultureInfo.InvariantCulture);
        }

        if (Environment.GetEnvironmentVariable("ORI_LOAD_OUTBOUND_BUDGET_PER_CONNECTION") is { Length: > 0 } share)
        {
            o.OutboundBudgetPerConnection = long.Parse(share, System.Globalization.CultureInfo.InvariantCulture);
        }

        // SignalR limits nothing: the message budget is off unless ORI_LOAD_RATE_LIMIT is set, which turns it on with
        // a budget no scenario reaches, to measure what taking a permit per message costs.
        o.MessagesPerSecond = Environment.GetEnvironmentVariable("ORI_LOAD_RATE_LIMIT") is { Length: > 0 } ? 1_000_000 : 0;
        o.MessageBurst = 1_000_000;
    }).AddSocketRouters().AddRoomRule((_, _) => true);
    // ORI_LOAD_TELEMETRY=otel: OpenTelemetry's SDK on the meters (Prometheus exporter, never scraped here: every
    // measurement is aggregated); =tracing: that and its tracer on the activity source, always sampled, batched to an
    // exporter that discards (what recording costs, without an exporter's network).
    if (Environment.GetEnvironmentVariable("ORI_LOAD_TELEMETRY") is { Length: > 0 } telemetry)
    {
        var otel = builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddMeter("Ori.Sockets", "Ori.Sockets.Redis").AddPrometheusExporter());
        if (telemetry == "tracing")
        {
            otel.WithTracing(t => t.AddSource("Ori.Sockets").SetSampler(new OpenTelemetry.Trace.AlwaysOnSampler())
                .AddProcessor(new OpenTelemetry.BatchActivityExportProcessor(new DiscardingExporter())));
        }
    }

    if (Environment.GetEnvironmentVariable("ORI_LOAD_RECOVERABLE") is { Length: > 0 })
    {
        // Every topic keeps a history (the load tool's "+recoverable"): what a position and a history cost per push.
        sockets.AddRecoverableTopics("*", maxMessages: 100);
    }

    if (redis is { Length: > 0 })
    {
        sockets.AddRedis(redis, o =>
        {
            o.ChannelPrefix = "load";
            o.Presence = Environment.GetEnvironmentVariable("ORI_LOAD_PRESENCE") != "0";
            if (Environment.GetEnvironmentVariable("ORI_LOAD_PRESENCE_HEARTBEAT_MS") is { Length: > 0 } heartbeat)
            {
                o.PresenceHeartbeat = TimeSpan.FromMilliseconds(int.Parse(heartbeat, System.Globalization.CultureInfo.InvariantCulture));
            }
        });
    }
}

var app = builder.Build();

if (authenticate)
{
    app.UseAuthentication();
}
app.MapGet("/ready", () => Results.Text(mode));

// Methods compiled so far (every tier): the tool warms a scenario up until this stops growing.
app.MapGet("/jit", () => Results.Text(System.Runtime.JitInfo.GetCompiledMethodCount().ToString(System.Globalization.CultureInfo.InvariantCulture)));

// Bytes allocated so far and garbage collections per generation: the tool reports them per delivery and request.
app.MapGet("/gc", () => Results.Text(string.Join(',', GC.GetTotalAllocatedBytes(precise: false), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2))));
// A full, compacting collection that gives free memory back to the system: the tool measures what idle connections hold
// when no garbage is left (GC heap bytes after it, and resident memory).
app.MapPost("/collect", () =>
{
    GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    GC.WaitForPendingFinalizers();
    return Results.Text(GC.GetTotalMemory(forceFullCollection: false).ToString(System.Globalization.CultureInfo.InvariantCulture));
});
if (mode == "signalr")
{
    app.MapHub<BenchHub>("/hub");
    app.MapPost("/publish", async (int count, int size, long intervalMicroseconds, string? user, IHubContext<BenchHub> hub) =>
    {
        var padding = new string('x', Math.Max(0, size - 60));
        var start = Stopwatch.GetTimestamp();
        var clients = user is { Length: > 0 } ? hub.Clients.User(user) : hub.Clients.Group("bench");
        for (var i = 0; i < count; i++)
        {
            await Pace(start, i, intervalMicroseconds);
            await clients.SendAsync("tick", Stopwatch.GetTimestamp(), padding);
        }

        return Results.Ok();
    });
}
else
{
    app.MapOriSockets("/ws");
    app.MapPost("/publish", async (int count, int size, long intervalMicroseconds, string? user, ISocketEmitter emitter) =>
    {
        var padding = new string('x', Math.Max(0, size - 60));
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            await Pace(start, i, intervalMicroseconds);
            var json = "{\"name\":\"tick\",\"data\":{\"t\":" + Stopwatch.GetTimestamp().ToString(System.Globalization.CultureInfo.InvariantCulture) + ",\"p\":\"" + padding + "\"}}";
            var frame = SocketFrame.Text(Encoding.UTF8.GetBytes(json));
            if (user is { Length: > 0 })
            {
                await emitter.SendToUserAsync(user, frame);
            }
            else
            {
                await emitter.PublishAsync("bench", frame);
            }
        }

        return Results.Ok();
    });
}

Console.WriteLine($"load server ({mode}) on {port}");
app.Run();

// Publish i is due at start + i × interval (no drift when one publish takes longer); 0: back to back.
static async Task Pace(long start, int i, long intervalMicroseconds)
{
    if (intervalMicroseconds > 0)
    {
        var due = TimeSpan.FromMicroseconds(intervalMicroseconds * i) - Stopwatch.GetElapsedTime(start);
        if (due > TimeSpan.Zero)
        {
            await Task.Delay(due);
        }
    }
}

namespace Ori.Sockets.LoadServer
{
    /// <summary>The SignalR side: a group to join and an echo method.</summary>
    public sealed class BenchHub : Hub
    {
        public Task JoinGroup(string group) => Groups.AddToGroupAsync(Context.ConnectionId, group);

        public string Echo(string text) => text;
    }

    /// <summary>The Ori.Sockets echo request.</summary>
    [SocketMessage("echo")]
    public sealed partial record EchoRequest(string Text) : ISocketRequest<EchoReply>;

    /// <summary>The echo reply.</summary>
    public sealed record EchoReply(string Text);

    /// <summary>The Ori.Sockets side's router.</summary>
    public sealed class EchoRouter
    {
        [SocketRoute("echo")]
        public static EchoReply Echo(EchoRequest request) => new(request.Text);
    }
}

/// <summary>The user named by the query's <c>user</c>, if any (a stand-in for real authentication).</summary>
internal sealed class QueryUser(Microsoft.Extensions.Options.IOptionsMonitor<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions> options, ILoggerFactory logger, System.Text.Encodings.Web.UrlEncoder encoder)
    : Microsoft.AspNetCore.Authentication.AuthenticationHandler<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string Name = "load";

    protected override Task<Microsoft.AspNetCore.Authentication.AuthenticateResult> HandleAuthenticateAsync()
    {
        if (Request.Query["user"].ToString() is not { Length: > 0 } user)
        {
            return Task.FromResult(Microsoft.AspNetCore.Authentication.AuthenticateResult.NoResult());
        }

        var principal = new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity([new System.Security.Claims.Claim(System.Security.Claims.ClaimTypes.NameIdentifier, user)], Name));
        return Task.FromResult(Microsoft.AspNetCore.Authentication.AuthenticateResult.Success(new Microsoft.AspNetCore.Authentication.AuthenticationTicket(principal, Name)));
    }
}

/// <summary>Receives every batch of finished spans and keeps none: the cost of recording them, not of shipping them.</summary>
internal sealed class DiscardingExporter : OpenTelemetry.BaseExporter<System.Diagnostics.Activity>
{
    public override OpenTelemetry.ExportResult Export(in OpenTelemetry.Batch<System.Diagnostics.Activity> batch) => OpenTelemetry.ExportResult.Success;
}

