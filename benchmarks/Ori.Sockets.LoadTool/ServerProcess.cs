using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Ori.Sockets.LoadTool;

/// <summary>A load server in its own process, pinned to core 0 when there are two or more; CPU and memory read from /proc.</summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public int Pid => _process.Id;

    public static async Task<ServerProcess> StartAsync(string mode, bool pin)
    {
        var port = FreePort();
        var dll = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "Ori.Sockets.LoadServer", "bin", "Release", "net10.0", "Ori.Sockets.LoadServer.dll");
        dll = Path.GetFullPath(File.Exists(dll) ? dll : Path.Combine(AppContext.BaseDirectory, "Ori.Sockets.LoadServer.dll"));
        var start = pin && File.Exists("/usr/bin/taskset")
            ? new ProcessStartInfo("/usr/bin/taskset") { ArgumentList = { "-c", "0", "dotnet", dll, mode, port.ToString(CultureInfo.InvariantCulture) } }
            : new ProcessStartInfo("dotnet") { ArgumentList = { dll, mode, port.ToString(CultureInfo.InvariantCulture) } };
        start.RedirectStandardOutput = true;
        start.Environment["DOTNET_TieredPGO"] = "1";
        var process = Process.Start(start)!;
        using var http = new HttpClient();
        for (var i = 0; i < 200; i++)
        {
            try
            {
                await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/ready"));
                return new ServerProcess(process, port);
            }
            catch (HttpRequestException)
            {
                await Task.Delay(100);
            }
        }

        process.Kill(true);
        throw new InvalidOperationException($"The {mode} load server did not start ({dll}).");
    }

    /// <summary>User + system CPU seconds of the server so far.</summary>
    public double CpuSeconds()
    {
        var stat = File.ReadAllText($"/proc/{Pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
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
    /// With --strace FILE: attaches <c>strace -c -f</c> to the server for what <paramref name="work"/> does and
    /// returns the number of send syscalls (write, writev, sendmsg, sendto); -1 without --strace.
    /// </summary>
    public async Task<long> CountSendSyscallsAsync(Func<Task> work)
    {
        if (Environment.GetEnvironmentVariable("ORI_LOAD_STRACE") is not { Length: > 0 } file || !File.Exists("/usr/bin/strace"))
        {
            await work();
            return -1;
        }

        file = $"{file}.{Pid}";
        using var strace = Process.Start(new ProcessStartInfo("/usr/bin/strace")
        {
            ArgumentList = { "-c", "-f", "-e", "trace=write,writev,sendmsg,sendto", "-o", file, "-p", Pid.ToString(CultureInfo.InvariantCulture) },
            RedirectStandardError = true,
        })!;
        await Task.Delay(1000);
        await work();
        using (var interrupt = Process.Start("/bin/kill", ["-INT", strace.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await interrupt.WaitForExitAsync();
        }

        await strace.WaitForExitAsync();
        long calls = 0;
        foreach (var line in File.ReadLines(file))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 5 && fields[^1] is "write" or "writev" or "sendmsg" or "sendto")
            {
                calls += long.Parse(fields[3], CultureInfo.InvariantCulture);
            }
        }

        return calls;
    }

    public async Task PublishAsync(int count, int size)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        using var response = await http.PostAsync(new Uri($"http://127.0.0.1:{Port}/publish?count={count}&size={size}"), null);
        response.EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync()
    {
        _process.Kill(true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
