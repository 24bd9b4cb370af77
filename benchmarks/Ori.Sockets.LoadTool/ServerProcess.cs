using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Ori.Sockets.LoadTool;

/// <summary>A load server in its own process, pinned to core 0 when there are two or more; CPU and memory read from /proc.</summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private readonly string _label;
    private readonly bool _pinned;

    private ServerProcess(Process process, int port, int socketPort, string label, bool pinned)
    {
        _process = process;
        Port = port;
        SocketPort = socketPort;
        _label = label;
        _pinned = pinned;
    }

    public int Port { get; }

    /// <summary>Where the sockets connect: <see cref="Port"/>, or the listener's port (Ori.Sockets served from the transport up).</summary>
    public int SocketPort { get; }

    public int Pid => _process.Id;

    /// <summary>Starts the load server in <paramref name="mode"/>; from another checkout's Release build when <paramref name="checkout"/> is given.</summary>
    public static async Task<ServerProcess> StartAsync(string mode, bool pin, string? checkout = null, bool limits = false, string? redis = null, bool presence = true, bool recoverable = false, string? telemetry = null, bool native = false, bool listener = false, bool inline = false)
    {
        var port = FreePort();
        var socketPort = listener ? FreePort() : port;
        string dll;
        if (checkout is not null)
        {
            dll = Path.Combine(checkout, "benchmarks", "Ori.Sockets.LoadServer", "bin", "Release", "net10.0", "Ori.Sockets.LoadServer.dll");
            if (!File.Exists(dll))
            {
                throw new FileNotFoundException($"Build the load server in {checkout} first (dotnet build -c Release benchmarks/Ori.Sockets.LoadServer).", dll);
            }
        }
        else
        {
            dll = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "Ori.Sockets.LoadServer", "bin", "Release", "net10.0", "Ori.Sockets.LoadServer.dll");
            dll = Path.GetFullPath(File.Exists(dll) ? dll : Path.Combine(AppContext.BaseDirectory, "Ori.Sockets.LoadServer.dll"));
        }
        // Bun: the npm package's binary running benchmarks/bun-server/server.js (npm ci there first).
        // Native: the load server published with Native AOT beside its Release build (see NativeBinary).
        string[] command = mode == "bun" ? [BunBinary(), BunScript(), port.ToString(CultureInfo.InvariantCulture)]
            : native ? [NativeBinary(dll), mode, port.ToString(CultureInfo.InvariantCulture)]
            : ["dotnet", dll, mode, port.ToString(CultureInfo.InvariantCulture)];
        var start = new ProcessStartInfo(pin && File.Exists("/usr/bin/taskset") ? "/usr/bin/taskset" : command[0]);
        foreach (var argument in pin && File.Exists("/usr/bin/taskset") ? ["-c", "0", .. command] : command[1..])
        {
            start.ArgumentList.Add(argument);
        }

        start.RedirectStandardOutput = true;
        start.Environment["DOTNET_TieredPGO"] = "1";
        if (recoverable)
        {
            start.Environment["ORI_LOAD_RECOVERABLE"] = "1";
        }

        if (limits)
        {
            start.Environment["ORI_LOAD_RATE_LIMIT"] = "1";
        }

        // The tool's own inline completions (Program.cs) are not the server's: only "+inline" turns them on there.
        start.Environment.Remove("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS");
        if (inline)
        {
            // The event-loop mode: Kestrel's inline scheduling and the runtime's inline socket completions.
            start.Environment["ORI_LOAD_INLINE"] = "1";
            start.Environment["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "1";
        }

        if (listener)
        {
            start.Environment["ORI_LOAD_LISTENER"] = socketPort.ToString(CultureInfo.InvariantCulture);
        }

        if (telemetry is not null)
        {
            start.Environment["ORI_LOAD_TELEMETRY"] = telemetry;
        }

        if (redis is not null)
        {
            start.Environment["ORI_LOAD_REDIS"] = redis;
            start.Environment["ORI_LOAD_PRESENCE"] = presence ? "1" : "0";
        }

        // Both servers are measured tiered up (a production server's steady state): hot methods are promoted
        // as soon as they are called 30 times instead of after the 100 ms quiet period that a saturated
        // core keeps postponing (measured: 18 s of echo load before the last promotions otherwise).
        start.Environment["DOTNET_TC_CallCountingDelayMs"] = "0";
        if (Environment.GetEnvironmentVariable("ORI_LOAD_PROFILE") is { Length: > 0 })
        {
            // Symbols for JIT-compiled code in perf profiles.
            start.Environment["DOTNET_PerfMapEnabled"] = "1";
            start.Environment["DOTNET_EnableWriteXorExecute"] = "0";
        }

        var process = Process.Start(start)!;
        using var http = new HttpClient();
        for (var i = 0; i < 200; i++)
        {
            try
            {
                await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/ready"));
                // Named by every choice that changes the server, so that one run's profiles do not overwrite each other.
                var label = mode + (listener ? "-listener" : "") + (inline ? "-inline" : "") + (native ? "-native" : "") + (checkout is not null ? "-" + Path.GetFileName(Path.TrimEndingDirectorySeparator(checkout)) : "");
                return new ServerProcess(process, port, socketPort, label, pin && File.Exists("/usr/bin/taskset"));
            }
            catch (HttpRequestException)
            {
                await Task.Delay(100);
            }
        }

        process.Kill(true);
        throw new InvalidOperationException($"The {mode} load server did not start ({dll}).");
    }

    /// <summary>
    /// CPU seconds (user + system) of the server's live threads so far, from each thread's
    /// <c>/proc/PID/task/TID/schedstat</c> (nanoseconds; <c>/proc/PID/stat</c> counts 10 ms ticks, too coarse for
    /// a burst of a few hundred milliseconds). Threads that exit during a measurement would be missed: the
    /// thread pool retires idle threads only after many seconds.
    /// </summary>
    public double CpuSeconds() => CpuSecondsOf(Pid);

    /// <summary>CPU seconds of a process's live threads so far (see <see cref="CpuSeconds"/>).</summary>
    public static double CpuSecondsOf(int pid) => CpuByThread(pid).Values.Sum(t => t.Nanoseconds) / 1e9;

    private static readonly bool s_threads = Environment.GetEnvironmentVariable("ORI_LOAD_THREADS") == "1";

    /// <summary>CPU nanoseconds and times switched in, by thread name (threads of one name summed), from schedstat.</summary>
    private static Dictionary<string, (long Nanoseconds, long Switches)> CpuByThread(int pid)
    {
        var byName = new Dictionary<string, (long Nanoseconds, long Switches)>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var name = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                var fields = File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ');
                var (nanoseconds, switches) = byName.GetValueOrDefault(name);
                byName[name] = (nanoseconds + long.Parse(fields[0], CultureInfo.InvariantCulture), switches + long.Parse(fields[2], CultureInfo.InvariantCulture));
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
        }

        return byName;
    }

    /// <summary>A full collection on the server (POST /collect); returns its heap's bytes after it.</summary>
    public async Task<long> CollectAsync()
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync(new Uri($"http://127.0.0.1:{Port}/collect"), null);
        return long.Parse(await response.Content.ReadAsStringAsync(), CultureInfo.InvariantCulture);
    }

    /// <summary>Resident memory in bytes.</summary>
    public long RssBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    /// <summary>
    /// Dirty memory in bytes (private and shared, from <c>smaps_rollup</c>): what the process has written — heaps, stacks,
    /// JIT code, relocated data. Resident memory also counts the clean pages of the files it maps (a runtime's libraries
    /// and ready-to-run images, Bun's binary), which the kernel can drop and read again and which other processes share.
    /// </summary>
    public long DirtyBytes()
    {
        long total = 0;
        foreach (var line in File.ReadLines($"/proc/{Pid}/smaps_rollup"))
        {
            if (line.StartsWith("Private_Dirty:", StringComparison.Ordinal) || line.StartsWith("Shared_Dirty:", StringComparison.Ordinal))
            {
                total += long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return total;
    }

    /// <summary>
    /// Runs <paramref name="work"/> as a measured phase: wall time, the server's CPU and the tool's own CPU,
    /// the bytes the server allocated and its collections, and, while <c>perf</c> watches the server, its send
    /// syscalls (write, writev, sendmsg, sendto) counted from the kernel's tracepoints with <c>perf stat</c>,
    /// which costs the server nothing measurable (unlike strace); with --profile DIR also a sampled profile of the
    /// server's core (<c>perf record -g</c>) written to DIR/SERVER-<paramref name="name"/>.perf.data (SERVER: the kind and its modifiers, e.g. ori-listener-inline-native).
    /// </summary>
    public async Task<Measurement> MeasureAsync(string name, Func<Task> work)
    {
        var target = _pinned ? new[] { "-C", "0" } : ["-p", Pid.ToString(CultureInfo.InvariantCulture)];
        var statFile = Path.Combine(Path.GetTempPath(), $"ori-load-{Pid}-{name}.stat");
        using var stat = CanCountSyscalls()
            ? Start("/usr/bin/perf", ["stat", "-x", ",", "-o", statFile, "-e", string.Join(',', s_sendSyscalls.Select(c => "syscalls:sys_enter_" + c)), .. target])
            : null;
        using var record = Environment.GetEnvironmentVariable("ORI_LOAD_PROFILE") is { Length: > 0 } folder && File.Exists("/usr/bin/perf")
            ? Start("/usr/bin/perf", ["record", "-g", "-F", Environment.GetEnvironmentVariable("ORI_LOAD_PROFILE_HZ") ?? "999", "-o", Path.Combine(folder, $"{_label}-{name}.perf.data"), .. target])
            : null;
        if (stat is not null || record is not null)
        {
            await Task.Delay(500); // perf attaches
        }

        var gc0 = await GcAsync();
        var threads0 = s_threads ? CpuByThread(Pid) : null;
        var toolCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var cpu0 = CpuSeconds();
        var watch = Stopwatch.StartNew();
        await work();
        watch.Stop();
        var cpu = CpuSeconds() - cpu0;
        var toolCpu = (Process.GetCurrentProcess().TotalProcessorTime - toolCpu0).TotalSeconds;
        if (threads0 is not null)
        {
            // ORI_LOAD_THREADS=1: where the server's CPU went, by thread name (threads of one name summed), and how
            // often those threads were switched in.
            foreach (var (thread, (nanoseconds, switches)) in CpuByThread(Pid).OrderByDescending(t => t.Value.Nanoseconds))
            {
                var (before, switchesBefore) = threads0.GetValueOrDefault(thread);
                if (nanoseconds > before)
                {
                    Console.Error.WriteLine($"    {_label} {name}: {thread,-18} {(nanoseconds - before) / 1e6,9:F1} ms CPU {switches - switchesBefore,9} switches in");
                }
            }
        }

        var gc1 = await GcAsync();
        var measurement = new Measurement(watch.Elapsed.TotalSeconds, cpu, toolCpu, -1, gc1[0] - gc0[0], gc1[1] - gc0[1], gc1[3] - gc0[3]);
        foreach (var perf in new[] { stat, record })
        {
            if (perf is not null)
            {
                using (var interrupt = Process.Start("/bin/kill", ["-INT", perf.Id.ToString(CultureInfo.InvariantCulture)]))
                {
                    await interrupt.WaitForExitAsync();
                }

                await perf.WaitForExitAsync();
            }
        }

        if (stat is null || !File.Exists(statFile))
        {
            return measurement;
        }

        long calls = 0;
        foreach (var line in File.ReadLines(statFile))
        {
            var fields = line.Split(',');
            if (fields.Length > 2 && fields[2].StartsWith("syscalls:sys_enter_", StringComparison.Ordinal) && long.TryParse(fields[0], CultureInfo.InvariantCulture, out var count))
            {
                calls += count;
            }
        }

        File.Delete(statFile);
        return measurement with { SendSyscalls = calls };
    }

    private static readonly string[] s_sendSyscalls = ["write", "writev", "sendmsg", "sendto"];

    private static bool CanCountSyscalls() =>
        File.Exists("/usr/bin/perf") && File.Exists("/sys/kernel/tracing/events/syscalls/sys_enter_sendmsg/id");

    private static Process Start(string file, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        process.StandardInput.Close();
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Bytes the server has allocated so far, and its gen0, gen1 and gen2 collections.</summary>
    public async Task<long[]> GcAsync()
    {
        using var http = new HttpClient();
        var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{Port}/gc"));
        return [.. text.Split(',').Select(v => long.Parse(v, CultureInfo.InvariantCulture))];
    }

    /// <summary>Waits until the server stops compiling methods (at most <paramref name="limit"/>): the warm-up is over.</summary>
    public async Task SettleJitAsync(TimeSpan limit)
    {
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow + limit;
        var last = -1L;
        var stable = 0;
        while (DateTime.UtcNow < deadline && stable < 3)
        {
            var count = long.Parse(await http.GetStringAsync(new Uri($"http://127.0.0.1:{Port}/jit")), CultureInfo.InvariantCulture);
            stable = count == last ? stable + 1 : 0;
            last = count;
            await Task.Delay(250);
        }
    }

    /// <summary>Has the server publish <paramref name="count"/> pushes back to back, or one per <paramref name="interval"/>.</summary>
    public async Task PublishAsync(int count, int size, TimeSpan interval = default, string? user = null)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        var micros = ((long)interval.TotalMicroseconds).ToString(CultureInfo.InvariantCulture);
        var to = user is null ? string.Empty : "&user=" + Uri.EscapeDataString(user);
        using var response = await http.PostAsync(new Uri($"http://127.0.0.1:{Port}/publish?count={count}&size={size}&intervalMicroseconds={micros}{to}"), null);
        response.EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync()
    {
        _process.Kill(true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    private static string NativeBinary(string dll)
    {
        var binary = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(dll)!, "..", "..", "native", "Ori.Sockets.LoadServer"));
        return File.Exists(binary) ? binary : throw new FileNotFoundException(
            "Publish the load server native first: dotnet publish benchmarks/Ori.Sockets.LoadServer -c Release -r linux-x64 -p:OriAot=true -o benchmarks/Ori.Sockets.LoadServer/bin/native", binary);
    }

    private static string BunFolder()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "benchmarks", "bun-server");
            if (File.Exists(Path.Combine(candidate, "server.js")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("benchmarks/bun-server was not found above the load tool.");
    }

    private static string BunScript() => Path.Combine(BunFolder(), "server.js");

    private static string BunBinary()
    {
        var binary = Path.Combine(BunFolder(), "node_modules", "@oven", "bun-linux-x64", "bin", "bun");
        return File.Exists(binary) ? binary : throw new FileNotFoundException("Install Bun for the load tool first: npm ci --prefix benchmarks/bun-server", binary);
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>What <see cref="ServerProcess.MeasureAsync"/> measured; <see cref="SendSyscalls"/> is -1 without perf.</summary>
internal sealed record Measurement(
    double Seconds, double ServerCpuSeconds, double ToolCpuSeconds, long SendSyscalls, long AllocatedBytes, long Gen0Collections, long Gen2Collections);
