using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace Ori.Sockets.LoadTool;

/// <summary>
/// The tool's own Redis for the cross-instance scenario: one redis-server, or a three-node cluster (no replicas, joined
/// with redis-cli), pinned with the servers, killed at the end.
/// </summary>
internal sealed class RedisProcess : IDisposable
{
    private readonly Process[] _processes;
    private readonly string? _folder;

    private RedisProcess(Process[] processes, int[] ports, string? folder)
    {
        _processes = processes;
        _folder = folder;
        Endpoint = string.Join(',', ports.Select(p => $"127.0.0.1:{p}"));
    }

    /// <summary>The connection string: every node.</summary>
    public string Endpoint { get; }

    /// <summary>Whether redis-cli is installed (to join a cluster).</summary>
    public static bool CanCluster => File.Exists("/usr/bin/redis-cli") || File.Exists("/usr/local/bin/redis-cli");

    /// <summary>Starts three cluster nodes on ports whose cluster-bus ports (+10000) are free too, and joins them.</summary>
    public static async Task<RedisProcess> StartClusterAsync(bool pin)
    {
        var folder = Directory.CreateTempSubdirectory("ori-load-cluster-").FullName;
        var ports = new List<int>();
        while (ports.Count < 3)
        {
            var port = Random.Shared.Next(20000, 30000);
            if (!ports.Contains(port) && IsFree(port) && IsFree(port + 10000))
            {
                ports.Add(port);
            }
        }

        var processes = new List<Process>();
        foreach (var port in ports)
        {
            var dir = Directory.CreateDirectory(Path.Combine(folder, port.ToString(CultureInfo.InvariantCulture))).FullName;
            processes.Add(Start(pin, port, ["--cluster-enabled", "yes", "--cluster-config-file", Path.Combine(dir, "nodes.conf"), "--dir", dir]));
        }

        foreach (var port in ports)
        {
            await WaitAsync(port);
        }

        var create = Process.Start(new ProcessStartInfo("redis-cli", ["--cluster", "create", .. ports.Select(p => $"127.0.0.1:{p}"), "--cluster-replicas", "0", "--cluster-yes"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        await create.StandardOutput.ReadToEndAsync();
        await create.WaitForExitAsync();
        var cluster = new RedisProcess([.. processes], [.. ports], folder);
        for (var i = 0; i < 100; i++)
        {
            var info = Process.Start(new ProcessStartInfo("redis-cli", ["-p", ports[0].ToString(CultureInfo.InvariantCulture), "cluster", "info"]) { RedirectStandardOutput = true })!;
            var text = await info.StandardOutput.ReadToEndAsync();
            await info.WaitForExitAsync();
            if (text.Contains("cluster_state:ok", StringComparison.Ordinal))
            {
                return cluster;
            }

            await Task.Delay(100);
        }

        cluster.Dispose();
        throw new InvalidOperationException("The Redis cluster did not become ok.");
    }

    /// <summary>Whether redis-server is installed.</summary>
    public static bool IsAvailable => File.Exists("/usr/bin/redis-server") || File.Exists("/usr/local/bin/redis-server");

    public static async Task<RedisProcess> StartAsync(bool pin)
    {
        var port = ServerProcess.FreePort();
        var process = Start(pin, port, []);
        await WaitAsync(port);
        return new RedisProcess([process], [port], null);
    }

    private static Process Start(bool pin, int port, string[] more)
    {
        string[] arguments = ["redis-server", "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", .. more];
        var start = pin && File.Exists("/usr/bin/taskset") ? new ProcessStartInfo("/usr/bin/taskset", ["-c", "0", .. arguments]) : new ProcessStartInfo(arguments[0], arguments[1..]);
        start.RedirectStandardOutput = true;
        start.RedirectStandardInput = true;
        var process = Process.Start(start)!;
        process.StandardInput.Close();
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        return process;
    }

    private static async Task WaitAsync(int port)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        throw new InvalidOperationException($"redis-server on {port} did not start.");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(System.Net.IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>A number from <c>INFO</c> of the first node (<c>total_commands_processed</c>, <c>used_memory</c>…).</summary>
    public async Task<long> InfoAsync(string field)
    {
        var parts = Endpoint.Split(',')[0].Split(':');
        using var client = new TcpClient();
        await client.ConnectAsync(parts[0], int.Parse(parts[1], CultureInfo.InvariantCulture));
        var stream = client.GetStream();
        await stream.WriteAsync("*1\r\n$4\r\nINFO\r\n"u8.ToArray());
        using var reader = new StreamReader(stream);
        var header = await reader.ReadLineAsync() ?? string.Empty;
        var length = int.Parse(header[1..], CultureInfo.InvariantCulture);
        var buffer = new char[length];
        var read = 0;
        while (read < length)
        {
            read += await reader.ReadAsync(buffer.AsMemory(read));
        }

        foreach (var line in new string(buffer).Split("\r\n"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line[(field.Length + 1)..], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"INFO has no {field}.");
    }

    /// <summary>CPU seconds of every redis-server so far.</summary>
    public double CpuSeconds() => _processes.Sum(p => ServerProcess.CpuSecondsOf(p.Id));

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited)
            {
                process.Kill(true);
                process.WaitForExit();
            }

            process.Dispose();
        }

        if (_folder is not null)
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}
