using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Redis.Tests.Infrastructure;

/// <summary>
/// The redis-server the tests use: the one scripts/test.sh started (ORI_TEST_REDIS=host:port), or,
/// for the fault tests, a private one on a free loopback port that a test can stop and start again.
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private readonly string _folder;
    private Process? _process;

    private RedisServer(int port, string folder)
    {
        Port = port;
        _folder = folder;
    }

    public int Port { get; }

    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>The shared server of this test run. Fails (never skips) when there is none.</summary>
    public static string Shared
    {
        get
        {
            var endpoint = Environment.GetEnvironmentVariable("ORI_TEST_REDIS");
            if (!string.IsNullOrEmpty(endpoint))
            {
                return endpoint;
            }

            return s_fallback.Value.Endpoint;
        }
    }

    // Outside scripts/test.sh (an IDE, say): start one for the whole run if redis-server is installed.
    private static readonly Lazy<RedisServer> s_fallback = new(() =>
    {
        var server = StartAsync().GetAwaiter().GetResult();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Kill();
        return server;
    });

    /// <summary>Starts a private redis-server on a free loopback port.</summary>
    public static async Task<RedisServer> StartAsync(int? port = null)
    {
        var binary = FindBinary();
        var folder = Directory.CreateTempSubdirectory("ori-redis-").FullName;
        var server = new RedisServer(port ?? StoppablePort(), folder);
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>
    /// A free port below the kernel's ephemeral range (32768 and up here): a port that <c>bind(0)</c> hands out could be
    /// given to another test's server or listener while this one is stopped, and the server "started again" would then
    /// be someone else's (measured: two fault tests failed in one CI run, one of them seeing Redis answer while it was
    /// stopped). Ports here are only ever chosen explicitly, and checked free.
    /// </summary>
    private static int StoppablePort()
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = Random.Shared.Next(20_000, 32_000);
            try
            {
                using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
                probe.Start();
                return port;
            }
            catch (SocketException) when (attempt < 100)
            {
            }
        }
    }

    /// <summary>Starts the server (again) on its port.</summary>
    public async Task StartAgainAsync()
    {
        // Standard input redirected: xunit.v3 talks to the test process over its own stdin.
        var start = new ProcessStartInfo(FindBinary())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _folder,
        };
        foreach (var argument in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _folder })
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start)!;
        _process.StandardInput.Close();
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                if (await RespClient.CommandAsync(Endpoint, "PING") is "PONG")
                {
                    // Ours, not another test's that took the port while this one was stopped.
                    var info = await RespClient.CommandAsync(Endpoint, "INFO", "server") as string ?? string.Empty;
                    if (!info.Contains("process_id:" + _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\r\n", StringComparison.Ordinal))
                    {
                        throw new InvalidOperationException($"Port {Port} answers for another redis-server: this one could not listen on it again.");
                    }

                    return;
                }
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Stops the server at once (as a crash would), by its pid.</summary>
    public async Task StopAsync()
    {
        Kill();
        if (_process is not null)
        {
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void Kill()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
        }
    }

    private static string FindBinary()
    {
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator))
        {
            var candidate = Path.Combine(folder, "redis-server");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        Assert.Fail("redis-server is not installed and ORI_TEST_REDIS is not set: run the suite with scripts/test.sh (as root it installs redis-server).");
        return string.Empty;
    }
}

/// <summary>A minimal RESP client for what tests ask Redis directly (PUBSUB, raw PUBLISH), apart from the client under test.</summary>
internal static class RespClient
{
    public static async Task<object?> CommandAsync(string endpoint, params object[] parts)
    {
        var (host, port) = (endpoint.Split(':')[0], int.Parse(endpoint.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture));
        using var client = new TcpClient();
        await client.ConnectAsync(host, port);
        var stream = client.GetStream();
        using var request = new MemoryStream();
        Write(request, $"*{parts.Length}\r\n");
        foreach (var part in parts)
        {
            var bytes = part as byte[] ?? Encoding.UTF8.GetBytes(Convert.ToString(part, System.Globalization.CultureInfo.InvariantCulture)!);
            Write(request, $"${bytes.Length}\r\n");
            request.Write(bytes);
            Write(request, "\r\n");
        }

        await stream.WriteAsync(request.ToArray());
        using var reader = new BufferedStream(stream);
        return Read(reader);
    }

    /// <summary>Subscribers of a channel, as Redis counts them (every instance's connection counts once).</summary>
    public static async Task<long> NumSubAsync(string endpoint, string channel)
    {
        var reply = (object?[])(await CommandAsync(endpoint, "PUBSUB", "NUMSUB", channel))!;
        return (long)reply[1]!;
    }

    /// <summary>Channels with at least one subscriber, matching a pattern.</summary>
    public static async Task<string[]> ChannelsAsync(string endpoint, string pattern)
    {
        var reply = (object?[])(await CommandAsync(endpoint, "PUBSUB", "CHANNELS", pattern))!;
        return [.. reply.Select(r => (string)r!).Order(StringComparer.Ordinal)];
    }

    private static void Write(Stream stream, string text) => stream.Write(Encoding.UTF8.GetBytes(text));

    private static object? Read(Stream stream)
    {
        var type = stream.ReadByte();
        var line = ReadLine(stream);
        switch (type)
        {
            case '+':
                return line;
            case '-':
                throw new InvalidOperationException(line);
            case ':':
                return long.Parse(line, System.Globalization.CultureInfo.InvariantCulture);
            case '$':
                var length = int.Parse(line, System.Globalization.CultureInfo.InvariantCulture);
                if (length < 0)
                {
                    return null;
                }

                var bytes = new byte[length + 2];
                stream.ReadExactly(bytes);
                return Encoding.UTF8.GetString(bytes, 0, length);
            case '*':
                var count = int.Parse(line, System.Globalization.CultureInfo.InvariantCulture);
                var items = new object?[Math.Max(count, 0)];
                for (var i = 0; i < items.Length; i++)
                {
                    items[i] = Read(stream);
                }

                return items;
            default:
                throw new InvalidOperationException($"Unexpected RESP type {(char)type}.");
        }
    }

    private static string ReadLine(Stream stream)
    {
        var text = new StringBuilder();
        int b;
        while ((b = stream.ReadByte()) != '\r')
        {
            if (b < 0)
            {
                throw new EndOfStreamException();
            }

            text.Append((char)b);
        }

        stream.ReadByte();
        return text.ToString();
    }
}
