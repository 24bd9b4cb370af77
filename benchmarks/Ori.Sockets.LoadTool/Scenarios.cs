using System.Diagnostics;

namespace Ori.Sockets.LoadTool;

internal static class Scenarios
{
    private const int LatencySamplers = 50;

    /// <summary>C subscribers of one topic; M pushes published in the server; every delivery counted.</summary>
    public static async Task<Dictionary<string, double>> FanOutAsync(ServerProcess server, IProtocol protocol, int subscribers, int messages)
    {
        var sockets = await ConnectManyAsync(server, protocol, subscribers, join: true);
        long delivered = 0;
        var expected = (long)subscribers * messages;
        var times = new List<long>[Math.Min(LatencySamplers, subscribers)];
        var latencies = new List<double>();
        var done = new TaskCompletionSource();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var receivers = sockets.Select((socket, i) => Task.Run(async () =>
        {
            var mine = 0;
            var sample = i < times.Length ? times[i] = new List<long>(messages) : null;
            await socket.ReceiveAsync(frame =>
            {
                var now = Stopwatch.GetTimestamp();
                var before = sample?.Count ?? 0;
                var n = protocol.CountTicks(frame.Span, sample);
                if (sample is not null)
                {
                    for (var k = before; k < sample.Count; k++)
                    {
                        sample[k] = now - sample[k];
                    }
                }

                mine += n;
                if (Interlocked.Add(ref delivered, n) >= expected)
                {
                    done.TrySetResult();
                }

                return mine < messages;
            }, stop.Token);
        })).ToList();

        var toolCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var cpu0 = server.CpuSeconds();
        var watch = Stopwatch.StartNew();
        var sends = await server.CountSendSyscallsAsync(async () =>
        {
            await server.PublishAsync(messages, 150);
            await Task.WhenAny(done.Task, Task.Delay(TimeSpan.FromSeconds(30)));
        });
        watch.Stop();
        var cpu = server.CpuSeconds() - cpu0;
        var toolCpu = (Process.GetCurrentProcess().TotalProcessorTime - toolCpu0).TotalSeconds;
        var rss = server.RssBytes();
        await stop.CancelAsync();
        foreach (var sample in times.Where(t => t is not null))
        {
            latencies.AddRange(sample.Select(t => t * 1000.0 / Stopwatch.Frequency));
        }

        foreach (var socket in sockets)
        {
            socket.Dispose();
        }

        latencies.Sort();
        return new Dictionary<string, double>
        {
            ["deliveries"] = delivered,
            ["expected"] = expected,
            ["seconds"] = watch.Elapsed.TotalSeconds,
            ["deliveries_per_second"] = delivered / watch.Elapsed.TotalSeconds,
            ["server_cpu_seconds"] = cpu,
            ["deliveries_per_server_cpu_second"] = cpu > 0 ? delivered / cpu : 0,
            ["server_cpu_seconds_per_million"] = delivered > 0 ? cpu / (delivered / 1e6) : 0,
            ["latency_p50_ms"] = Percentile(latencies, 0.50),
            ["latency_p99_ms"] = Percentile(latencies, 0.99),
            ["server_rss_mb"] = rss / 1048576.0,
            ["tool_cpu_seconds"] = toolCpu,
            ["send_syscalls"] = sends,
            ["deliveries_per_send_syscall"] = sends > 0 ? delivered / (double)sends : 0,
        };
    }

    /// <summary>K connections each sending an echo request and waiting for its reply, for a while.</summary>
    public static async Task<Dictionary<string, double>> EchoAsync(ServerProcess server, IProtocol protocol, int connections, TimeSpan duration)
    {
        var sockets = await ConnectManyAsync(server, protocol, connections, join: false);
        long requests = 0;
        var latencies = new List<double>[connections];
        using var stop = new CancellationTokenSource(duration);
        var cpu0 = server.CpuSeconds();
        var toolCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(sockets.Select((socket, i) => Task.Run(async () =>
        {
            var mine = latencies[i] = [];
            var id = 0;
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    var key = (++id).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    var started = Stopwatch.GetTimestamp();
                    await socket.SendTextAsync(protocol.EchoMessage(id), stop.Token);
                    await socket.ReceiveAsync(frame => !protocol.IsReply(frame.Span, key), stop.Token);
                    mine.Add((Stopwatch.GetTimestamp() - started) * 1000.0 / Stopwatch.Frequency);
                    Interlocked.Increment(ref requests);
                }
            }
            catch (OperationCanceledException)
            {
            }
        })));
        watch.Stop();
        var cpu = server.CpuSeconds() - cpu0;
        var toolCpu = (Process.GetCurrentProcess().TotalProcessorTime - toolCpu0).TotalSeconds;
        foreach (var socket in sockets)
        {
            socket.Dispose();
        }

        var all = latencies.SelectMany(l => l).Order().ToList();
        return new Dictionary<string, double>
        {
            ["requests"] = requests,
            ["requests_per_second"] = requests / watch.Elapsed.TotalSeconds,
            ["server_cpu_seconds"] = cpu,
            ["requests_per_server_cpu_second"] = cpu > 0 ? requests / cpu : 0,
            ["latency_p50_ms"] = Percentile(all, 0.50),
            ["latency_p99_ms"] = Percentile(all, 0.99),
            ["tool_cpu_seconds"] = toolCpu,
        };
    }

    /// <summary>N connections that do nothing: resident memory per connection.</summary>
    public static async Task<Dictionary<string, double>> IdleAsync(ServerProcess server, IProtocol protocol, int connections)
    {
        await Task.Delay(500);
        var before = server.RssBytes();
        var sockets = await ConnectManyAsync(server, protocol, connections, join: false);
        await Task.Delay(2000);
        var after = server.RssBytes();
        foreach (var socket in sockets)
        {
            socket.Dispose();
        }

        return new Dictionary<string, double>
        {
            ["connections"] = connections,
            ["server_rss_before_mb"] = before / 1048576.0,
            ["server_rss_after_mb"] = after / 1048576.0,
            ["bytes_per_connection"] = (after - before) / (double)connections,
        };
    }

    private static async Task<List<RawWebSocket>> ConnectManyAsync(ServerProcess server, IProtocol protocol, int count, bool join)
    {
        var sockets = new RawWebSocket[count];
        using var limit = new SemaphoreSlim(64);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await limit.WaitAsync(timeout.Token);
            try
            {
                var socket = await RawWebSocket.ConnectAsync(server.Port, protocol.Path, timeout.Token);
                await protocol.OpenAsync(socket, timeout.Token);
                if (join)
                {
                    await socket.SendTextAsync(protocol.JoinMessage, timeout.Token);
                    await socket.ReceiveAsync(frame => !protocol.IsReply(frame.Span, "j"), timeout.Token);
                }

                sockets[i] = socket;
            }
            finally
            {
                limit.Release();
            }
        }));
        return [.. sockets];
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];
}
