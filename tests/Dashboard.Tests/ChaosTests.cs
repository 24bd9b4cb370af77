using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Dashboard.Contracts;
using Ori.Sockets;
using Ori.Sockets.Client;
using Ori.Sockets.Redis;
using Ori.Sockets.Redis.Tests.Infrastructure;
using Ori.Sockets.Tests.Infrastructure;

namespace Dashboard.Tests;

/// <summary>The chaos tests run alone: 300 clients and two child processes would starve the tests beside them of CPU.</summary>
[CollectionDefinition(nameof(ChaosTests), DisableParallelization = true)]
public sealed class ChaosTestsRunAlone;

/// <summary>
/// Recovery under real failures: two Dashboard instances in child processes on one real redis-server, hundreds of .NET
/// clients behind a TCP relay that sends new connections to the first instance that accepts them, a worker publishing a
/// numbered stream of incidents to a recoverable topic, and the clients' instance killed with SIGKILL mid-stream.
/// </summary>
[Collection(nameof(ChaosTests))]
public sealed class ChaosTests
{
    private const string Topic = "incidents:acme:chaos";
    private const int Clients = 300;

    [Fact]
    public async Task Clients_of_a_killed_instance_recover_every_missed_push_on_the_other_exactly_once_and_in_order()
    {
        // A push every 30 ms: the 100 kept cover three seconds, enough for 300 clients to come back on B.
        var run = await RunAsync(total: 160, killAfter: 50, holdAfterKill: 0, interval: 30);
        Assert.All(run.Clients, c =>
        {
            Assert.Equal(Enumerable.Range(1, 160), c.Seen);
            var recovery = Assert.Single(c.Recoveries);
            Assert.True(recovery.Recovered, $"a client was told it did not recover ({recovery})");
        });
        TestContext.Current.TestOutputHelper?.WriteLine(run.Summary);
    }

    [Fact]
    public async Task Clients_that_come_back_after_the_history_bound_are_told_and_get_nothing_old_nor_twice()
    {
        // The relay refuses connections until 130 pushes (more than the 100 kept) were published after the kill.
        var run = await RunAsync(total: 200, killAfter: 30, holdAfterKill: 130);
        Assert.All(run.Clients, c =>
        {
            var recovery = Assert.Single(c.Recoveries);
            Assert.False(recovery.Recovered);
            var resumed = (int)recovery.Position.Offset;
            Assert.True(resumed >= 30 + 130, $"recovered position {resumed}");

            // What it saw before the drop (1..k, contiguous), then exactly what came after the position it was told.
            var before = c.Seen.TakeWhile((n, i) => n == i + 1).ToList();
            Assert.True(before.Count >= 20, $"only {before.Count} before the kill");
            Assert.Equal(before.Concat(Enumerable.Range(resumed + 1, 200 - resumed)), c.Seen);
        });
        TestContext.Current.TestOutputHelper?.WriteLine(run.Summary);
    }

    [Fact]
    public async Task A_client_whose_network_drops_while_its_instance_stays_up_recovers_exactly_once_and_in_order()
    {
        await using var redis = await RedisServer.StartAsync();
        var prefix = "drop" + Guid.NewGuid().ToString("N")[..8];
        await using var server = await DashboardServer.StartAsync(redis: redis.Endpoint, prefix: prefix);
        await using var relay = new Relay([server.HttpUri.Port]);
        var client = await ChaosClient.StartAsync(relay.Port);
        await using var worker = Worker(redis.Endpoint, prefix);
        try
        {
            for (var n = 1; n <= 100; n++)
            {
                if (n == 40)
                {
                    // The network drops: every byte of the connection is lost at once; the instance is fine.
                    relay.DropAll();
                }

                await PublishAsync(worker, n);
                await Task.Delay(10, TestContext.Current.CancellationToken);
            }

            await Eventually.TrueAsync(() => client.Last == 100, TimeSpan.FromSeconds(20));
            Assert.Equal(Enumerable.Range(1, 100), client.Seen);
            Assert.True(Assert.Single(client.Recoveries).Recovered);
            Assert.True(relay.Accepted >= 2, "the client did not reconnect");
        }
        finally
        {
            await client.DisposeAsync();
        }
    }

    private static RedisSocketEmitter Worker(string redis, string prefix) =>
        new RedisSocketEmitter(new OriSocketsRedisOptions { ConnectionString = redis, ChannelPrefix = prefix })
            .AddRecoverableTopics("incidents:*", maxMessages: 100, maxAge: TimeSpan.FromMinutes(10));

    private static ValueTask PublishAsync(RedisSocketEmitter worker, int n) =>
        worker.EmitAsync(Topic, new IncidentCreated($"inc_{n}", n.ToString(System.Globalization.CultureInfo.InvariantCulture), "low", "chaos"));

    /// <summary>Starts A and B, connects the clients to A through the relay, publishes, kills A, and collects.</summary>
    private static async Task<Run> RunAsync(int total, int killAfter, int holdAfterKill, int interval = 20)
    {
        await using var redis = await RedisServer.StartAsync();
        var prefix = "chaos" + Guid.NewGuid().ToString("N")[..8];
        var (portA, portB) = (TestEnvironment.FreePort(), TestEnvironment.FreePort());
        using var a = DashboardProcess.Start(redis.Endpoint, prefix, portA);
        using var b = DashboardProcess.Start(redis.Endpoint, prefix, portB);
        var clients = new List<ChaosClient>();
        try
        {
            await DashboardProcess.WaitReadyAsync(portA);
            await DashboardProcess.WaitReadyAsync(portB);
            await using var relay = new Relay([portA, portB]);
            clients.AddRange(await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => ChaosClient.StartAsync(relay.Port))));
            Assert.Equal(Clients, relay.Accepted);

            await using var worker = Worker(redis.Endpoint, prefix);
            var killedAt = Stopwatch.StartNew();
            TimeSpan? lastBack = null;
            for (var n = 1; n <= total; n++)
            {
                if (n == killAfter + 1)
                {
                    if (holdAfterKill > 0)
                    {
                        relay.Refusing = true;
                    }

                    a.Kill(entireProcessTree: true);
                    killedAt.Restart();
                }

                if (holdAfterKill > 0 && n == killAfter + holdAfterKill + 1)
                {
                    relay.Refusing = false;
                }

                await PublishAsync(worker, n);
                await Task.Delay(interval, TestContext.Current.CancellationToken);
                if (lastBack is null && n > killAfter && clients.All(c => c.State == OriSocketClientState.Connected && !c.Recoveries.IsEmpty))
                {
                    lastBack = killedAt.Elapsed;
                }
            }

            // Done: each client has the last push, or was told it resumed at the last one (then nothing newer comes).
            await Eventually.TrueAsync(() => clients.All(c => c.Recoveries.LastOrDefault() is { } told && (c.Last == total || (!told.Recovered && told.Position.Offset == total))), TimeSpan.FromSeconds(30));
            var summary = $"{Clients} clients, {total} pushes, instance A killed after {killAfter}{(holdAfterKill > 0 ? $", relay refused for the next {holdAfterKill}" : string.Empty)}: " +
                $"all back on B {lastBack?.TotalMilliseconds:F0} ms after the kill; recovered {clients.Count(c => c.Recoveries.All(r => r.Recovered))}, " +
                $"told not recovered {clients.Count(c => c.Recoveries.Any(r => !r.Recovered))}; pushes received {clients.Sum(c => c.Seen.Count)}";
            return new Run(clients, summary);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }

            if (!a.HasExited)
            {
                a.Kill(entireProcessTree: true);
            }

            b.Kill(entireProcessTree: true);
        }
    }

    private sealed record Run(IReadOnlyList<ChaosClient> Clients, string Summary);

    /// <summary>A .NET client in the incidents room, recording the numbers it was given and what it was told.</summary>
    private sealed class ChaosClient : IAsyncDisposable
    {
        private readonly OriSocketClient _client;
        private readonly List<int> _seen = [];

        private ChaosClient(OriSocketClient client)
        {
            _client = client;
            client.On<IncidentCreated>(i =>
            {
                lock (_seen)
                {
                    _seen.Add(int.Parse(i.Title, System.Globalization.CultureInfo.InvariantCulture));
                }
            });
            client.Recovery += Recoveries.Enqueue;
        }

        public ConcurrentQueue<OriSocketRecovery> Recoveries { get; } = new();

        public List<int> Seen
        {
            get
            {
                lock (_seen)
                {
                    return [.. _seen];
                }
            }
        }

        public int Last
        {
            get
            {
                lock (_seen)
                {
                    return _seen.Count == 0 ? 0 : _seen[^1];
                }
            }
        }

        public OriSocketClientState State => _client.State;

        public static async Task<ChaosClient> StartAsync(int port)
        {
            var client = new OriSocketClient(new Uri($"ws://127.0.0.1:{port}/ws?token=bob-token"), new OriSocketClientOptions
            {
                ReconnectInitialDelay = TimeSpan.FromMilliseconds(100),
                ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
                RequestTimeout = TimeSpan.FromSeconds(20),
                ConnectTimeout = TimeSpan.FromSeconds(20),
            });
            var chaos = new ChaosClient(client);
            await client.ConnectAsync();
            await client.JoinRoomAsync(Topic);
            return chaos;
        }

        public ValueTask DisposeAsync() => _client.DisposeAsync();
    }
}

/// <summary>A Dashboard instance in a child process (so that it can be killed with SIGKILL).</summary>
internal static class DashboardProcess
{
    public static Process Start(string redis, string prefix, int port, params string[] more) =>
        Start(port, ["--ConnectionStrings:Redis", redis, "--Ori:Sockets:Redis:ChannelPrefix", prefix, .. more]);

    /// <summary>
    /// The Dashboard on <paramref name="port"/> with <paramref name="more"/> arguments; with <paramref name="descriptorLimit"/>,
    /// under that many open descriptors at most (<c>ulimit -n</c>); each line it prints goes to <paramref name="output"/>.
    /// </summary>
    public static Process Start(int port, string[] more, int? descriptorLimit = null, Action<string>? output = null)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Dashboard.Server.dll");
        string[] args = [dll, "--urls", $"http://127.0.0.1:{port}", "--Dashboard:SimulatorIntervalSeconds", "0", "--Logging:LogLevel:Default", "Warning", .. more];
        var start = descriptorLimit is { } limit
            ? new ProcessStartInfo("bash", ["-c", $"ulimit -n {limit} && exec dotnet \"$@\"", "bash", .. args])
            : new ProcessStartInfo("dotnet", args);
        start.RedirectStandardOutput = true;
        start.RedirectStandardInput = true;
        start.WorkingDirectory = AppContext.BaseDirectory;
        var process = Process.Start(start)!;
        process.StandardInput.Close();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                output?.Invoke(e.Data);
            }
        };
        process.BeginOutputReadLine();
        return process;
    }

    public static async Task WaitReadyAsync(int port)
    {
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/"));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }

            await Task.Delay(100);
        }
    }
}

/// <summary>
/// A TCP relay in front of instances: each new connection goes to the first backend that accepts it. It can refuse new
/// connections for a while, and drop every connection at once (a network failure, both ends see it abruptly).
/// </summary>
internal sealed class Relay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int[] _backends;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<TcpClient, TcpClient> _open = new();
    private int _accepted;
    private bool _refusing;

    public Relay(int[] backends)
    {
        _backends = backends;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = AcceptAsync();
    }

    public int Port { get; }

    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>While true, new connections are closed at once (as if nothing listened).</summary>
    public bool Refusing
    {
        get => Volatile.Read(ref _refusing);
        set => Volatile.Write(ref _refusing, value);
    }

    /// <summary>Resets every relayed connection (RST on both sides).</summary>
    public void DropAll()
    {
        foreach (var (client, server) in _open)
        {
            foreach (var end in new[] { client, server })
            {
                try
                {
                    end.Client?.LingerState = new LingerOption(true, 0);
                }
                catch (ObjectDisposedException)
                {
                }

                end.Dispose();
            }
        }

        _open.Clear();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = RelayAsync(client);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        if (Refusing)
        {
            client.Dispose();
            return;
        }

        TcpClient? server = null;
        foreach (var port in _backends)
        {
            var attempt = new TcpClient();
            try
            {
                await attempt.ConnectAsync(IPAddress.Loopback, port, _stop.Token);
                server = attempt;
                break;
            }
            catch (SocketException)
            {
                attempt.Dispose();
            }
        }

        if (server is null)
        {
            client.Dispose();
            return;
        }

        Interlocked.Increment(ref _accepted);
        _open[client] = server;
        await Task.WhenAny(PumpAsync(client.GetStream(), server.GetStream()), PumpAsync(server.GetStream(), client.GetStream()));
        _open.TryRemove(client, out _);
        client.Dispose();
        server.Dispose();
    }

    private async Task PumpAsync(Stream from, Stream to)
    {
        try
        {
            await from.CopyToAsync(to, _stop.Token);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        DropAll();
        _stop.Dispose();
        return default;
    }
}
