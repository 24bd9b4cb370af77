using System.Diagnostics;

namespace Ori.Sockets.LoadTool;

internal static class Scenarios
{
    private const int LatencySamplers = 50;

    /// <summary>C subscribers of one topic; M pushes published in the server; every delivery counted.</summary>
    /// <remarks>
    /// A warm-up burst (a quarter of M) is published and received first and not counted, so that both
    /// servers are measured with their code tiered up (steady state), not while the JIT instruments it.
    /// </remarks>
    public static async Task<Dictionary<string, double>> FanOutAsync(ServerProcess server, IProtocol protocol, int subscribers, int messages)
    {
        var sockets = await ConnectManyAsync(server, protocol, subscribers, join: true);
        var warmUp = Math.Max(1, messages / 4);
        long delivered = 0;
        var warmExpected = (long)subscribers * warmUp;
        var expected = (long)subscribers * messages;
        var times = new List<long>[Math.Min(LatencySamplers, subscribers)];
        var latencies = new List<double>();
        var warm = new TaskCompletionSource();
        var done = new TaskCompletionSource();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var receivers = sockets.Select((socket, i) => Task.Run(async () =>
        {
            var mine = 0;
            var sample = i < times.Length ? times[i] = new List<long>(warmUp + messages) : null;
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
                var total = Interlocked.Add(ref delivered, n);
                if (total >= warmExpected)
                {
                    warm.TrySetResult();
                }

                if (total >= warmExpected + expected)
                {
                    done.TrySetResult();
                }

                return mine < warmUp + messages;
            }, stop.Token);
        })).ToList();

        await server.PublishAsync(warmUp, 150);
        await Task.WhenAny(warm.Task, Task.Delay(TimeSpan.FromSeconds(30)));
        await server.SettleJitAsync(TimeSpan.FromSeconds(10));
        var warmDelivered = Interlocked.Read(ref delivered);
        var toolCpu0 = TimeSpan.Zero;
        var cpu0 = 0.0;
        var watch = new Stopwatch();
        var cpu = 0.0;
        var toolCpu = 0.0;
        var sends = await server.MeasureAsync($"fanout-{subscribers}", async () =>
        {
            toolCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            cpu0 = server.CpuSeconds();
            watch.Start();
            await server.PublishAsync(messages, 150);
            await Task.WhenAny(done.Task, Task.Delay(TimeSpan.FromSeconds(30)));
            watch.Stop();
            cpu = server.CpuSeconds() - cpu0;
            toolCpu = (Process.GetCurrentProcess().TotalProcessorTime - toolCpu0).TotalSeconds;
        });
        var rss = server.RssBytes();
        await stop.CancelAsync();
        var measured = Interlocked.Read(ref delivered) - warmDelivered;
        foreach (var sample in times.Where(t => t is not null))
        {
            latencies.AddRange(sample.Skip(warmUp).Select(t => t * 1000.0 / Stopwatch.Frequency));
        }

        foreach (var socket in sockets)
        {
            socket.Dispose();
        }

        latencies.Sort();
        return new Dictionary<string, double>
        {
            ["deliveries"] = measured,
            ["expected"] = expected,
            ["seconds"] = watch.Elapsed.TotalSeconds,
            ["deliveries_per_second"] = measured / watch.Elapsed.TotalSeconds,
            ["server_cpu_seconds"] = cpu,
            ["deliveries_per_server_cpu_second"] = cpu > 0 ? measured / cpu : 0,
            ["server_cpu_seconds_per_million"] = measured > 0 ? cpu / (measured / 1e6) : 0,
            ["latency_p50_ms"] = Percentile(latencies, 0.50),
            ["latency_p99_ms"] = Percentile(latencies, 0.99),
            ["server_rss_mb"] = rss / 1048576.0,
            ["tool_cpu_seconds"] = toolCpu,
            ["send_syscalls"] = sends,
            ["deliveries_per_send_syscall"] = sends > 0 ? measured / (double)sends : 0,
        };
    }

    /// <summary>K connections each sending an echo request and waiting for its reply, for a while.</summary>
    /// <remarks>The loops run for a warm-up period first (not counted), so that the server is measured tiered up.</remarks>
    public static async Task<Dictionary<string, double>> EchoAsync(ServerProcess server, IProtocol protocol, int connections, TimeSpan warmUp, TimeSpan duration)
    {
        var sockets = await ConnectManyAsync(server, protocol, connections, join: false);
        long requests = 0;
        var measuring = 0;
        var latencies = new List<double>[connections];
        using var stop = new CancellationTokenSource();
        var loops = Task.WhenAll(sockets.Select((socket, i) => Task.Run(async () =>
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
                    if (Volatile.Read(ref measuring) == 1)
                    {
                        mine.Add((Stopwatch.GetTimestamp() - started) * 1000.0 / Stopwatch.Frequency);
                        Interlocked.Increment(ref requests);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        })));
        await Task.Delay(warmUp);
        await server.SettleJitAsync(TimeSpan.FromSeconds(10));
        var cpu0 = 0.0;
        var toolCpu0 = TimeSpan.Zero;
        var watch = new Stopwatch();
        var cpu = 0.0;
        var toolCpu = 0.0;
        var sends = await server.MeasureAsync("echo", async () =>
        {
            cpu0 = server.CpuSeconds();
            toolCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            watch.Start();
            Volatile.Write(ref measuring, 1);
            stop.CancelAfter(duration);
            await loops;
            watch.Stop();
            cpu = server.CpuSeconds() - cpu0;
            toolCpu = (Process.GetCurrentProcess().TotalProcessorTime - toolCpu0).TotalSeconds;
        });
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
            ["send_syscalls"] = sends,
            ["replies_per_send_syscall"] = sends > 0 ? requests / (double)sends : 0,
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
