// Ori.Sockets vs Bun (Bun.serve, uWebSockets underneath) and ASP.NET Core SignalR on one machine, real WebSockets on
// loopback. Bun comes from npm: `npm ci --prefix benchmarks/bun-server` once (benchmarks/bun-server/server.js).
//   dotnet run -c Release --project benchmarks/Ori.Sockets.LoadTool -- [--quick] [--json FILE] [--servers ori,bun,signalr]
//     [--only fanout|echo|idle|cross] [--subscribers C] [--messages M] [--profile DIR]
//   A server may be "ori@DIR": the Ori.Sockets load server built (Release) in another checkout DIR, to compare two
//   versions in one run (e.g. --servers ori@../before,ori); "ori+limits" turns the message budget on (a budget no
//   scenario reaches: what taking a permit per message costs); "ori+recoverable" makes every topic recoverable (each
//   push gets a position and is kept in a history: in memory, or in Redis in the cross-instance scenarios); "ori+otel"
//   attaches OpenTelemetry's SDK to the meters (Prometheus exporter, not scraped: every measurement aggregated) and
//   "ori+tracing" adds its tracer on the activity source Ori.Sockets (always sampled, batched to an exporter that
//   discards): what metrics and traces cost; "ori+native" runs the load server published with Native AOT
//   (dotnet publish benchmarks/Ori.Sockets.LoadServer -c Release -r linux-x64 -p:OriAot=true -o benchmarks/Ori.Sockets.LoadServer/bin/native);
//   "ori+listener" connects the sockets to a listener served from the transport up (UseOriSockets); "+inline" runs the
//   server in the event-loop mode (Kestrel's UnsafePreferInlineScheduling and DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1;
//   "signalr+inline" too). Modifiers combine: "ori+listener+inline+native".
// Scenarios: fan-out (C subscribers of one topic/group, M pushes of ~150 bytes), request/reply (K
// connections in closed loops), idle connections (memory per connection) and cross-instance fan-out (two instances
// on one redis-server of the tool's own: subscribers on B, pushes published on A; Ori.Sockets' Redis provider against
// SignalR's Redis backplane; CPU of both instances and redis-server; Bun has no backplane and skips it). The server runs in its own
// process pinned to core 0, the tool on core 1; server CPU from /proc/PID/stat, memory from VmRSS and, for the fan-out
// burst, also its dirty pages (smaps_rollup: what the process wrote, without the clean pages of the files it maps).
// Send syscalls are counted with perf's syscall tracepoints when tracefs is mounted (as root:
// mount -t tracefs nodev /sys/kernel/tracing; else they print -1); --profile samples at 999 Hz, ORI_LOAD_PROFILE_HZ=N changes it.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Ori.Sockets.LoadTool;

// The tool's receives run on the socket engine's thread, as an event loop's do, not a thread-pool worker woken for
// each: on its one core the tool reads every delivery of a burst, and it must not be what the burst's latency waits
// for. Read when the first socket is made, so set before any; ORI_LOAD_TOOL_INLINE=0 keeps the runtime's default.
// Child processes do not inherit it (ServerProcess).
if (Environment.GetEnvironmentVariable("ORI_LOAD_TOOL_INLINE") != "0")
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}

var quick = args.Contains("--quick");
var jsonFile = ArgValue("--json");
var servers = (ArgValue("--servers") ?? "ori,bun,signalr").Split(',');
if (ArgValue("--profile") is { } profile)
{
    Directory.CreateDirectory(profile);
    Environment.SetEnvironmentVariable("ORI_LOAD_PROFILE", Path.GetFullPath(profile));
}

var only = ArgValue("--only"); // fanout, echo or idle
int[] fanOut = ArgValue("--subscribers") is { } c ? [int.Parse(c, CultureInfo.InvariantCulture)] : [1000, 5000];
// Pushes per burst: by default as many as make 1 M deliveries (2 M without --quick) whatever the subscriber count,
// so that every burst runs long enough to measure (200 / 400 pushes for 5,000 subscribers, 1,000 / 2,000 for 1,000).
var messagesOption = ArgValue("--messages") is { } m ? int.Parse(m, CultureInfo.InvariantCulture) : (int?)null;
var deliveriesPerBurst = quick ? 1_000_000 : 2_000_000;
int[] idle = quick ? [5000] : [5000, 10000];
var echoConnections = 64;
var echoSeconds = quick ? 5 : 15;
var echoWarmUpSeconds = quick ? 3 : 5;
var pin = Environment.ProcessorCount >= 2;
if (pin && OperatingSystem.IsLinux())
{
    Process.GetCurrentProcess().ProcessorAffinity = 2; // core 1; the server gets core 0
}

var results = new Dictionary<string, Dictionary<string, double>>();
var sinceLastReport = Stopwatch.StartNew();
foreach (var spec in servers)
{
    var limits = spec.Contains("+limits", StringComparison.Ordinal);
    var recoverable = spec.Contains("+recoverable", StringComparison.Ordinal);
    var telemetry = spec.Contains("+tracing", StringComparison.Ordinal) ? "tracing" : spec.Contains("+otel", StringComparison.Ordinal) ? "otel" : null;
    var native = spec.Contains("+native", StringComparison.Ordinal);
    var listener = spec.Contains("+listener", StringComparison.Ordinal);
    var inline = spec.Contains("+inline", StringComparison.Ordinal);
    var bare = spec.Replace("+limits", string.Empty, StringComparison.Ordinal).Replace("+recoverable", string.Empty, StringComparison.Ordinal)
        .Replace("+tracing", string.Empty, StringComparison.Ordinal).Replace("+otel", string.Empty, StringComparison.Ordinal)
        .Replace("+native", string.Empty, StringComparison.Ordinal).Replace("+listener", string.Empty, StringComparison.Ordinal)
        .Replace("+inline", string.Empty, StringComparison.Ordinal);
    var at = bare.IndexOf('@', StringComparison.Ordinal);
    var server = at < 0 ? bare : bare[..at];
    var checkout = at < 0 ? null : Path.GetFullPath(bare[(at + 1)..]);
    IProtocol protocol = server switch
    {
        "signalr" => new SignalRProtocol(),
        "bun" => new OriProtocol("Bun"),
        _ => new OriProtocol(),
    };
    var name = (checkout is null ? protocol.Name : $"{protocol.Name} ({Path.GetFileName(checkout)})") + (limits ? " +limits" : string.Empty) + (recoverable ? " +recoverable" : string.Empty) + (telemetry is null ? string.Empty : " +" + telemetry) + (native ? " +native" : string.Empty) + (listener ? " +listener" : string.Empty) + (inline ? " +inline" : string.Empty);
    var figures = results[name] = [];
    foreach (var subscribers in only is null or "fanout" ? fanOut : [])
    {
        await using var process = await ServerProcess.StartAsync(server, pin, checkout, limits, recoverable: recoverable, telemetry: telemetry, native: native, listener: listener, inline: inline);
        var f = await Scenarios.FanOutAsync(process, protocol, subscribers, messagesOption ?? deliveriesPerBurst / subscribers);
        foreach (var (key, value) in f)
        {
            figures[$"fanout_{subscribers}_{key}"] = value;
        }

        Report(name, $"fan-out {subscribers}", f);
    }

    if (only is null or "echo")
    {
        await using var process = await ServerProcess.StartAsync(server, pin, checkout, limits, recoverable: recoverable, telemetry: telemetry, native: native, listener: listener, inline: inline);
        var f = await Scenarios.EchoAsync(process, protocol, echoConnections, TimeSpan.FromSeconds(echoWarmUpSeconds), TimeSpan.FromSeconds(echoSeconds));
        foreach (var (key, value) in f)
        {
            figures[$"echo_{key}"] = value;
        }

        Report(name, $"request/reply {echoConnections}", f);
    }

    // One redis-server, then a three-node cluster (Ori.Sockets uses sharded pub/sub there; SignalR's backplane, classic).
    // With --quick they run only when asked for (--only cross): they are half of a full run's time, and --quick keeps to
    // three minutes for all three servers.
    foreach (var cluster in (only == "cross" || (only is null && !quick)) && server != "bun" && RedisProcess.IsAvailable ? (RedisProcess.CanCluster ? [false, true] : [false]) : Array.Empty<bool>())
    {
        const int subscribers = 1000;
        using var redis = cluster ? await RedisProcess.StartClusterAsync(pin) : await RedisProcess.StartAsync(pin);
        await using var a = await ServerProcess.StartAsync(server, pin, checkout, limits, redis.Endpoint, recoverable: recoverable, telemetry: telemetry, native: native, listener: listener, inline: inline);
        await using var b = await ServerProcess.StartAsync(server, pin, checkout, limits, redis.Endpoint, recoverable: recoverable, telemetry: telemetry, native: native, listener: listener, inline: inline);
        var f = await Scenarios.FanOutAsync(b, protocol, subscribers, messagesOption ?? deliveriesPerBurst / subscribers, a, [("publisher", a.CpuSeconds), ("redis", redis.CpuSeconds)]);
        var label = cluster ? "cross_cluster" : "cross";
        foreach (var (key, value) in f)
        {
            figures[$"{label}_{subscribers}_{key}"] = value;
        }

        Report(name, $"cross-instance fan-out {subscribers} via {(cluster ? "a three-node Redis Cluster" : "one Redis")}", f);
    }

    // Sends to a user across instances: the 1,000 sockets on B are all one user's, the sends made on A.
    if (only == "cross-user" && server != "bun" && RedisProcess.IsAvailable)
    {
        const int sockets = 1000;
        using var redis = await RedisProcess.StartAsync(pin);
        await using var a = await ServerProcess.StartAsync(server, pin, checkout, limits, redis.Endpoint, recoverable: recoverable, telemetry: telemetry, native: native, listener: listener, inline: inline);
        await using var b = await ServerProcess.StartAsync(server, pin, checkout, limits, redis.Endpoint, recoverable: recoverable, telemetry: telemetry, native: native, listener: listener, inline: inline);
        var f = await Scenarios.FanOutAsync(b, protocol, sockets, messagesOption ?? deliveriesPerBurst / sockets, a, [("publisher", a.CpuSeconds), ("redis", redis.CpuSeconds)], user: "u");
        foreach (var (key, value) in f)
        {
            figures[$"cross_user_{sockets}_{key}"] = value;
        }

        Report(name, $"sends to one user's {sockets} sockets across instances via one Redis", f);
    }

    // Presence on and off: what a member costs (Ori.Sockets only: SignalR has no presence).
    foreach (var presence in only == "presence" && server == "ori" && RedisProcess.IsAvailable ? [true, false] : Array.Empty<bool>())
    {
        using var redis = await RedisProcess.StartAsync(pin);
        await using var process = await ServerProcess.StartAsync(server, pin, checkout, limits, redis.Endpoint, presence, recoverable: recoverable, telemetry: telemetry, native: native, listener: listener, inline: inline);
        var f = await Scenarios.PresenceAsync(process, redis, protocol, idle[0]);
        foreach (var (key, value) in f)
        {
            figures[$"presence_{(presence ? "on" : "off")}_{key}"] = value;
        }

        Report(name, $"members of a room via Redis, presence {(presence ? "on" : "off")}", f);
    }

    foreach (var count in only is null or "idle" ? idle : [])
    {
        await using var process = await ServerProcess.StartAsync(server, pin, checkout, limits, recoverable: recoverable, telemetry: telemetry, native: native, listener: listener, inline: inline);
        var f = await Scenarios.IdleAsync(process, protocol, count);
        foreach (var (key, value) in f)
        {
            figures[$"idle_{count}_{key}"] = value;
        }

        Report(name, $"idle {count}", f);
    }
}

// Ratios of Ori.Sockets to each peer measured in the same run (Bun, SignalR).
if (results.TryGetValue("Ori.Sockets", out var oriFigures))
{
    foreach (var peer in new[] { "Bun", "SignalR" })
    {
        if (!results.TryGetValue(peer, out var peerFigures))
        {
            continue;
        }

        Console.WriteLine();
        Console.WriteLine($"Ratios (Ori.Sockets / {peer}; for memory and latency, lower is better):");
        var ratios = oriFigures.Keys.Where(k => peerFigures.TryGetValue(k, out var other) && other != 0)
            .ToDictionary(k => k, k => oriFigures[k] / peerFigures[k]);
        foreach (var (key, value) in ratios)
        {
            Console.WriteLine($"  {key,-48} {value,10:F2}");
        }

        results[peer == "SignalR" ? "ratio" : "ratio_" + peer.ToLowerInvariant()] = ratios;
    }
}

if (jsonFile is not null)
{
    await File.WriteAllTextAsync(jsonFile, JsonSerializer.Serialize(new
    {
        date = DateTimeOffset.UtcNow,
        machine = new { cores = Environment.ProcessorCount, os = Environment.OSVersion.ToString(), runtime = Environment.Version.ToString() },
        quick,
        results,
    }, new JsonSerializerOptions { WriteIndented = true }));
}

return 0;

string? ArgValue(string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}

void Report(string server, string scenario, Dictionary<string, double> figures)
{
    // How long the scenario took, start-up of its processes included (what --quick's budget is spent on).
    Console.WriteLine($"{server,-12} {scenario}   ({sinceLastReport.Elapsed.TotalSeconds:F0} s)");
    sinceLastReport.Restart();
    foreach (var (key, value) in figures)
    {
        Console.WriteLine($"    {key,-40} {value.ToString("#,0.##", CultureInfo.InvariantCulture),16}");
    }
}
